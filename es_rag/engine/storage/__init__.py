"""Durable storage: `_source` and document metadata in SQLite, index metadata as JSON files."""
