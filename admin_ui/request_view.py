""""View request": the exact Elasticsearch request a search sent, and the same call written with
the official Python client, for an admin to reproduce a result outside es-rag."""

from __future__ import annotations

import json
import re
from typing import Any

# the client's keyword names for body keys that are not Python identifiers or are keywords
_KEYWORDS = {"_source": "source", "from": "from_"}
_NUMBERS = re.compile(r"\[\s+(-?[\d.e+-]+(?:,\s+-?[\d.e+-]+)*)\s+\]")


def as_json(value: Any) -> str:
    """Indented JSON with lists of numbers (query vectors) kept on one line."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return _NUMBERS.sub(lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",")
                        + "]", text)


def _python(value: Any, indent: int) -> str:
    """`value` as a Python literal, indented; lists of numbers on one line."""
    pad = " " * indent
    if isinstance(value, dict) and value:
        items = [f"{pad}    {key!r}: {_python(item, indent + 4)}," for key, item in value.items()]
        return "{\n" + "\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and value and not all(
            isinstance(item, int | float) for item in value):
        items = [f"{pad}    {_python(item, indent + 4)}," for item in value]
        return "[\n" + "\n".join(items) + f"\n{pad}]"
    return repr(value)


def python_snippet(request: dict[str, Any], url: str) -> str:
    """The request as a call of the official client (`elasticsearch` package)."""
    lines = ["from elasticsearch import Elasticsearch", "",
             f'client = Elasticsearch("{url}", api_key="...")  # or basic_auth=(user, password)']
    body = request["body"]
    if request["path"] == "/_msearch":
        lines.append(f"response = client.msearch(searches={_python(body, 4)})")
        return "\n".join(lines)
    index = request["path"].strip("/").split("/")[0]
    keywords = [f'    index="{index}",']
    if all(_KEYWORDS.get(key, key).isidentifier() for key in body):
        keywords += [f"    {_KEYWORDS.get(key, key)}={_python(value, 4)},"
                     for key, value in body.items()]
    else:
        keywords.append(f"    body={_python(body, 4)},")
    lines += ["response = client.search(", *keywords, ")"]
    return "\n".join(lines)


def request_views(explain: dict[str, Any], url: str) -> list[dict[str, str]]:
    """Each request of a search's `explain["requests"]`: the line, the JSON body, the snippet."""
    views = []
    for request in explain.get("requests", []):
        body = request["body"]
        if request["path"] == "/_msearch":  # NDJSON: one line per header and per body
            shown = "\n".join(json.dumps(line, ensure_ascii=False) for line in body)
        else:
            shown = as_json(body)
        views.append({"line": f"{request['method']} {request['path']}", "body": shown,
                      "python": python_snippet(request, url)})
    return views
