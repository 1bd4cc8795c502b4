"""Settings come from ES_RAG_* variables and es-rag.toml, and bad values name the key."""

from pathlib import Path

import pytest

from es_rag.config import ConfigError, load_settings


def test_defaults_use_the_embedded_engine() -> None:
    settings = load_settings(env={})
    assert settings.uses_engine
    assert settings.data == Path(".es-rag")
    assert settings.index == "chunks"
    assert settings.llm_provider == "extractive"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    config = tmp_path / "es-rag.toml"
    config.write_text('url = "http://file:9200"\nchunk_size = 128\n')
    settings = load_settings(env={"ES_RAG_URL": "https://env:9200"}, config_file=config)
    assert settings.url == "https://env:9200"
    assert settings.chunk_size == 128
    assert not settings.uses_engine


def test_cli_overrides_win_over_environment() -> None:
    settings = load_settings(env={"ES_RAG_URL": "http://env:9200"}, url="http://flag:9200")
    assert settings.url == "http://flag:9200"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ES_RAG_LLM_PROVIDER": "gpt"}, "ES_RAG_LLM_PROVIDER: 'gpt' is not one of extractive"),
        ({"ES_RAG_CHUNK_SIZE": "big"}, "ES_RAG_CHUNK_SIZE: 'big' is not a number"),
        ({"ES_RAG_CHUNK_SIZE": "0"}, "ES_RAG_CHUNK_SIZE: '0' must be at least 1"),
        ({"ES_RAG_VERIFY_CERTS": "maybe"}, "ES_RAG_VERIFY_CERTS: 'maybe' is not a boolean"),
        ({"ES_RAG_URL": "localhost:9200"}, "is not an http:// or https:// URL"),
        ({"ES_RAG_USER": "elastic"}, "ES_RAG_USER and ES_RAG_PASSWORD go together"),
        ({"ES_RAG_CHUNK_SIZE": "32", "ES_RAG_CHUNK_OVERLAP": "32"}, "must be smaller than"),
        (
            {"ES_RAG_API_KEY": "k", "ES_RAG_USER": "u", "ES_RAG_PASSWORD": "p"},
            "choose one way to log in",
        ),
    ],
)
def test_bad_values_name_the_key_and_accepted_values(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_settings(env=env)


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "es-rag.toml"
    config.write_text("url = \n")
    with pytest.raises(ConfigError, match="es-rag.toml: not valid TOML"):
        load_settings(env={}, config_file=config)


def test_unknown_toml_key_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "es-rag.toml"
    config.write_text('colour = "blue"\n')
    with pytest.raises(ConfigError, match="unknown key 'colour'"):
        load_settings(env={}, config_file=config)


def test_secrets_are_masked_in_public_output() -> None:
    settings = load_settings(env={"ES_RAG_API_KEY": "secret-key"})
    assert settings.public_dict()["api_key"] == "********"
    assert "secret-key" not in str(settings.public_dict())


def test_ingest_roots_come_as_a_toml_list_or_joined_paths(tmp_path: Path) -> None:
    assert load_settings(env={}).ingest_roots == ()
    joined = load_settings(env={"ES_RAG_INGEST_ROOTS": "/srv/docs:/srv/wiki"})
    assert joined.ingest_roots == (Path("/srv/docs"), Path("/srv/wiki"))
    assert joined.public_dict()["ingest_roots"] == ["/srv/docs", "/srv/wiki"]
    config = tmp_path / "es-rag.toml"
    config.write_text('ingest_roots = ["/srv/docs"]\ningest_max_chars = 5000\n')
    from_file = load_settings(env={}, config_file=config)
    assert (from_file.ingest_roots, from_file.ingest_max_chars) == ((Path("/srv/docs"),), 5000)
    config.write_text("ingest_roots = 3\n")
    with pytest.raises(ConfigError, match="ingest_roots: 3 is not a list of folders"):
        load_settings(env={}, config_file=config)
