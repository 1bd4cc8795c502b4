"""The REST layer, thin: the WSGI app (headers, media types, `filter_path`), one `Router` for
every endpoint (URL parameters validated from the REST spec, Elasticsearch's errors), the security
filter (authentication and action authorization) and the route modules. A route module exposes
`register(router, services)` with only the services it uses; its handlers parse the request, call
one service and render the answer; services are built in `app.py`."""
