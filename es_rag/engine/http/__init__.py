"""The REST layer: HTTP server, router, request/response rendering and thin route handlers."""
