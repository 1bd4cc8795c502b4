"""Document routes: index, create, get, exists, delete, update, bulk, mget."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ..documents import Documents
from ..errors import BadRequest, EngineError
from ..source_filter import json_token
from ..write_request import WriteRequest, WriteResult
from .rest import RestRequest, RestResponse, Router

_WRITE = ("refresh routing timeout version version_type if_seq_no if_primary_term pipeline "
          "wait_for_active_shards require_alias require_data_stream include_source_on_error "
          "list_executed_pipelines op_type")
_SOURCE = "_source _source_includes _source_excludes"
_GET = f"{_SOURCE} stored_fields preference realtime refresh routing version version_type"
_BULK_ACTIONS = ("index", "create", "update", "delete")
_ITEM_KEYS = {"_index", "_id", "routing", "if_seq_no", "if_primary_term", "version",
              "version_type", "pipeline", "require_alias", "retry_on_conflict", "op_type",
              "_source", "dynamic_templates", "list_executed_pipelines",
              "require_data_stream"}
_INDEX_AND_ID = {"_index", "_id"}
MGET_ITEM = "indices:data/read/mget[shard]"


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def write_request(req: RestRequest, op: str, doc_id: str | None) -> WriteRequest:
    """A WriteRequest from a single-document call's URL parameters."""
    p = req.params
    if p.get("version_type", "internal") not in ("internal", "external", "external_gt",
                                                 "external_gte"):
        raise BadRequest(f"No version type match [{p['version_type']}]")
    try:
        return WriteRequest(op, req.path_params["index"], doc_id,
                            if_seq_no=_int_or_none(p.get("if_seq_no")),
                            if_primary_term=_int_or_none(p.get("if_primary_term")),
                            version=_int_or_none(p.get("version")),
                            version_type=p.get("version_type", "internal"),
                            routing=p.get("routing"), pipeline=p.get("pipeline"),
                            require_alias=req.flag("require_alias"))
    except ValueError as err:
        raise BadRequest(f"Failed to parse parameter: {err}") from err


def register(router: Router, docs: Documents) -> None:
    """Add the document routes served by `docs`."""

    def refresh_after(req: RestRequest, results: list[WriteResult],
                      body: dict[str, Any] | None = None) -> None:
        mode = req.params.get("refresh")
        if mode is None or mode == "false":
            return
        if mode not in ("", "true", "wait_for"):
            raise BadRequest(f"Unknown value for refresh: [{mode}].")
        names = {r.body.get("_index") for r in results if r.error is None}
        docs.refresh(names)
        if body is not None and mode in ("", "true") and names:
            body["forced_refresh"] = True

    def with_source(req: RestRequest, write: WriteRequest) -> WriteRequest:
        """`write` with the request body as the document (it must be a JSON object)."""
        source = req.json(required=True)
        if not isinstance(source, dict):
            raise EngineError("failed to parse", status=400,
                              error_type="document_parsing_exception")
        write.source = source
        write.raw_source = req.body.strip()
        return write

    def single(req: RestRequest, write: WriteRequest) -> RestResponse:
        result = docs.write([write])[0]
        if result.error is not None:
            raise result.error
        body = dict(result.body)
        refresh_after(req, [result], body)
        return RestResponse(body, result.status)

    def index(req: RestRequest) -> RestResponse:
        doc_id = req.path_params.get("id")
        # without an id Elasticsearch defaults to op_type create (create_doc may do it)
        op = req.params.get("op_type", "index" if doc_id is not None else "create")
        if op not in ("index", "create"):
            raise BadRequest(f"opType must be 'create' or 'index', found: [{op}]")
        return single(req, with_source(req, write_request(req, op, doc_id)))

    def create(req: RestRequest) -> RestResponse:
        return single(req, with_source(req, write_request(req, "create",
                                                          req.path_params["id"])))

    def delete(req: RestRequest) -> RestResponse:
        return single(req, write_request(req, "delete", req.path_params["id"]))

    def update(req: RestRequest) -> RestResponse:
        write = write_request(req, "update", req.path_params["id"])
        write.update = req.json(required=True)
        write.source_spec = _url_source_spec(req.params)
        return single(req, write)

    def get(req: RestRequest) -> RestResponse:
        body, found = docs.get(req.path_params["index"], req.path_params["id"],
                               req.params.get("_source"), req.params.get("_source_includes"),
                               req.params.get("_source_excludes"),
                               req.params.get("stored_fields"), read_scope=req.scope,
                               **_routed(req))
        return RestResponse(body, 200 if found else 404)

    def get_source(req: RestRequest) -> RestResponse:
        body, found = docs.get(req.path_params["index"], req.path_params["id"],
                               req.params.get("_source"), req.params.get("_source_includes"),
                               req.params.get("_source_excludes"), read_scope=req.scope,
                               **_routed(req))
        if not found:
            raise EngineError(f"Document not found [{req.path_params['index']}]/"
                              f"[{req.path_params['id']}]", status=404,
                              error_type="resource_not_found_exception")
        if "_source" not in body:  # `_source` disabled in the mapping
            raise EngineError(f"Source not found [{req.path_params['index']}]/"
                              f"[{req.path_params['id']}]", status=404,
                              error_type="resource_not_found_exception")
        return RestResponse(body["_source"])

    def bulk(req: RestRequest) -> RestResponse:
        requests, errors = _parse_bulk(req)
        results = docs.write([r for r in requests if isinstance(r, WriteRequest)], bulk=True)
        items = []
        it = iter(results)
        for entry in requests:
            if isinstance(entry, tuple):
                action, err_body = entry
                items.append({action: err_body})
                continue
            result = next(it)
            body = result.body
            if result.error is None:
                body["status"] = result.status
                if req.flag("list_executed_pipelines") and entry.op != "delete":
                    body["executed_pipelines"] = entry.executed_pipelines or []
            items.append({entry.op: body})
        refresh_after(req, results)
        has_errors = errors or any("error" in next(iter(i.values())) for i in items)
        return RestResponse({"errors": bool(has_errors), "took": 0, "items": items})

    def mget(req: RestRequest) -> RestResponse:
        body = req.json(required=True) or {}
        default_index = req.path_params.get("index")
        specs: list[dict[str, Any]] = []
        if "docs" in body:
            specs = body["docs"]
        elif "ids" in body:
            if not body["ids"]:
                raise EngineError("Validation Failed: 1: no documents to get;", status=400,
                                  error_type="action_request_validation_exception")
            if default_index is None:
                raise EngineError("Validation Failed: 1: index is missing for doc 0;",
                                  status=400, error_type="action_request_validation_exception")
            specs = [{"_id": i} for i in body["ids"]]
        else:
            raise EngineError("unknown parameter [" + next(iter(body), "") + "]" if body else
                              "Validation Failed: 1: no documents to get;", status=400,
                              error_type="action_request_validation_exception")
        out = []
        reading = _reading(req)
        realtime, refresh = reading["realtime"], reading["refresh"]
        refreshed: set[str] = set()  # `refresh` refreshes each index once, before its first item
        for pos, spec in enumerate(specs):
            index = spec.get("_index", default_index)
            if index is None:
                raise EngineError(f"Validation Failed: 1: index is missing for doc {pos};",
                                  status=400, error_type="action_request_validation_exception")
            if "_id" not in spec:
                raise EngineError(f"Validation Failed: 1: id is missing for doc {pos};",
                                  status=400, error_type="action_request_validation_exception")
            source_spec = spec.get("_source", req.params.get("_source"))
            try:
                # each item authorized on its own index, as mget[shard] is
                req.scope.authorize(MGET_ITEM, index)
                doc, _ = docs.get(index, str(spec["_id"]), source_spec,
                                  req.params.get("_source_includes"),
                                  req.params.get("_source_excludes"), read_scope=req.scope,
                                  realtime=realtime, refresh=refresh and index not in refreshed,
                                  routing=spec.get("routing", req.params.get("routing")))
                refreshed.add(index)
            except EngineError as err:
                doc = {"_index": index, "_id": str(spec["_id"]), "error": err.cause()}
            out.append(doc)
        return RestResponse({"docs": out})

    router.add("PUT POST", "/{index}/_doc/{id}", index, _WRITE)
    router.add("POST", "/{index}/_doc", index, _WRITE)
    router.add("PUT POST", "/{index}/_create/{id}", create, _WRITE)
    router.add("GET HEAD", "/{index}/_doc/{id}", get, _GET)
    router.add("GET HEAD", "/{index}/_source/{id}", get_source, _GET)
    router.add("DELETE", "/{index}/_doc/{id}", delete, _WRITE)
    router.add("POST", "/{index}/_update/{id}", update,
               f"{_WRITE} {_SOURCE} retry_on_conflict lang")
    bulk_params = f"{_WRITE} {_SOURCE} type"
    router.add("PUT POST", "/_bulk", bulk, bulk_params)
    router.add("PUT POST", "/{index}/_bulk", bulk, bulk_params)
    router.add("GET POST", "/_mget", mget, _GET)
    router.add("GET POST", "/{index}/_mget", mget, _GET)


def _reading(req: RestRequest) -> dict[str, bool]:
    """A get's `realtime` (default true) and `refresh` (default false) parameters."""
    return {"realtime": req.flag("realtime", True), "refresh": req.flag("refresh")}


def _routed(req: RestRequest) -> dict[str, Any]:
    """A single get's reading parameters and its `routing`."""
    return {**_reading(req), "routing": req.params.get("routing")}


def _url_source_spec(params: Mapping[str, str]) -> Any:
    """`_source`, `_source_includes`, `_source_excludes` of the URL as one `_source` value, or
    None if none is given (Elasticsearch's `FetchSourceContext.parseFromRestRequest`)."""
    includes, excludes = params.get("_source_includes"), params.get("_source_excludes")
    if includes is None and excludes is None:
        return params.get("_source")
    spec: dict[str, Any] = {}
    if includes is not None or params.get("_source") not in (None, "true", "false"):
        spec["includes"] = (includes or params["_source"]).split(",")
    if excludes is not None:
        spec["excludes"] = excludes.split(",")
    return spec


def _parse_bulk(req: RestRequest) -> tuple[list[WriteRequest | tuple[str, dict]], bool]:
    """Bulk lines → write requests (a malformed action line fails the whole request, as ES)."""
    lines = req.body.split(b"\n")
    if req.body and not req.body.endswith(b"\n"):
        raise BadRequest("The bulk request must be terminated by a newline [\\n]")
    default_index = req.path_params.get("index")
    p = req.params
    routing, pipeline = p.get("routing"), p.get("pipeline")
    require_alias = p.get("require_alias") == "true"
    url_source = _url_source_spec(p)
    out: list[WriteRequest | tuple[str, dict]] = []
    pos = 0
    while pos < len(lines):
        line = lines[pos].strip()
        pos += 1
        if not line:
            continue
        try:
            action_line = orjson.loads(line)
        except orjson.JSONDecodeError as err:
            raise EngineError(f"Malformed action/metadata line [{pos}], expected START_OBJECT "
                              f"but found [{err}]", status=400,
                              error_type="illegal_argument_exception") from err
        if isinstance(action_line, dict) and not action_line:
            raise BadRequest(f"Malformed action/metadata line [{pos}], expected FIELD_NAME but "
                             f"found [END_OBJECT]")
        if not isinstance(action_line, dict) or len(action_line) != 1:
            raise BadRequest(f"Malformed action/metadata line [{pos}], expected "
                             f"START_OBJECT or END_OBJECT but found [VALUE_STRING]")
        action, meta = next(iter(action_line.items()))
        if action not in _BULK_ACTIONS:
            raise BadRequest(f"Malformed action/metadata line [{pos}], expected field "
                             f"[create], [delete], [index] or [update] but found [{action}]")
        if not isinstance(meta, dict):
            raise BadRequest(f"Malformed action/metadata line [{pos}], expected START_OBJECT "
                             f"but found [{json_token(meta)}]")
        if not meta.keys() <= _ITEM_KEYS:
            unknown = next(key for key in meta if key not in _ITEM_KEYS)
            raise BadRequest(f"Action/metadata line [{pos}] contains an unknown parameter "
                             f"[{unknown}]")
        index = meta.get("_index", default_index)
        if index is None:
            raise EngineError("Validation Failed: 1: index is missing;", status=400,
                              error_type="action_request_validation_exception")
        doc_id = meta.get("_id")
        doc_id = doc_id if doc_id is None or type(doc_id) is str else str(doc_id)
        if meta.keys() <= _INDEX_AND_ID:  # the usual item: defaults from the URL
            write = WriteRequest(action, index, doc_id, routing=routing, pipeline=pipeline,
                                 require_alias=require_alias)
        else:
            op = action
            if action == "index" and meta.get("op_type") == "create":
                op = "create"
            write = WriteRequest(
                op, index, doc_id,
                if_seq_no=_int_or_none(meta.get("if_seq_no")),
                if_primary_term=_int_or_none(meta.get("if_primary_term")),
                version=_int_or_none(meta.get("version")),
                version_type=meta.get("version_type", "internal"),
                routing=meta.get("routing", routing), pipeline=meta.get("pipeline", pipeline),
                require_alias=bool(meta.get("require_alias", require_alias)))
        if action == "delete":
            out.append(write)
            continue
        if pos >= len(lines) or not lines[pos].strip():
            raise BadRequest("The bulk request must be terminated by a newline [\\n]")
        source_line = lines[pos]
        pos += 1
        try:
            source = orjson.loads(source_line)
        except orjson.JSONDecodeError as err:
            err_body = {"_index": index, "_id": write.id, "status": 400, "error": {
                "type": "document_parsing_exception",
                "reason": f"[1:1] failed to parse: {err}"}}
            out.append((action, err_body))
            continue
        if action == "update":
            write.update = source
            if "_source" in meta:
                write.source_spec = meta["_source"]
            else:  # the URL's `_source*` parameters are the default of every update item
                write.source_spec = url_source
        else:
            if not isinstance(source, dict):
                out.append((action, {"_index": index, "_id": write.id, "status": 400, "error": {
                    "type": "document_parsing_exception", "reason": "failed to parse"}}))
                continue
            write.source = source
            write.raw_source = source_line.strip()
        out.append(write)
    if not out:
        raise EngineError("Validation Failed: 1: no requests added;", status=400,
                          error_type="action_request_validation_exception")
    return out, any(isinstance(e, tuple) for e in out)
