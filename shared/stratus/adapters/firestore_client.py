"""The Firestore client every Firestore adapter shares: one per process and database,
created on first use (a cold start that never touches Firestore never imports it). It
honours FIRESTORE_EMULATOR_HOST by itself."""

from __future__ import annotations

import threading
from typing import Any

_clients: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def firestore_client(project: str, database: str = "(default)") -> Any:
    with _lock:
        client = _clients.get((project, database))
        if client is None:
            from google.cloud import firestore

            client = firestore.Client(project=project, database=database)
            _clients[(project, database)] = client
        return client


def document_id(key: str) -> str:
    """Firestore ids may not contain '/' nor look like __name__."""
    return key.replace("/", "|").replace("__", "_~")
