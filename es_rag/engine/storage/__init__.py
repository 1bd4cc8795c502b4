"""Durable storage: `_source` and document metadata in SQLite (`docstore.py`, one transaction
per request: what makes a write durable), `_source` packed with dense vectors as float32
(`source_codec.py`), cluster state as JSON written atomically (`state.py`), and the private data
directory permissions (`private.py`). Everything else (full-text index, vector graphs) is derived
from the store and rebuilt from it."""
