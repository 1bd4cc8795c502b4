"""API name -> HTTP method(s) and path templates, from Elasticsearch's REST API specification.

``rest_api_spec.json`` is generated from the rest-api-spec ``<api>.json`` files by
``tools/generate_rest_api_spec.py``: the paths each API can be called on, each with the methods
it accepts. ``{part}`` placeholders are path parts; every other parameter of a ``do`` step goes
to the query string. ``NDJSON_APIS`` take newline-delimited JSON bodies.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

SPEC_FILE = Path(__file__).with_name("rest_api_spec.json")


@dataclass(frozen=True)
class ApiPath:
    """One path template of an API and the HTTP methods it accepts (first = preferred)."""

    methods: tuple[str, ...]
    template: str

    @property
    def parts(self) -> frozenset[str]:
        """Names of the ``{part}`` placeholders in the template."""
        return frozenset(re.findall(r"\{(\w+)\}", self.template))


def _load() -> tuple[dict[str, list[ApiPath]], frozenset[str]]:
    apis = json.loads(SPEC_FILE.read_text(encoding="utf-8"))["apis"]
    specs = {name: [ApiPath(tuple(p["methods"]), p["path"]) for p in api["paths"]]
             for name, api in apis.items()}
    return specs, frozenset(name for name, api in apis.items() if api["ndjson"])


API_SPECS, NDJSON_APIS = _load()
