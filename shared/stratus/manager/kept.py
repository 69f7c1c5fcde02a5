"""Rendered answers a worker keeps beside the digest of the rows they were rendered from.

GET /positions renders a page once and keeps it under its request (filter and page) with
the digest PostgreSQL computed over its rows and total. The next request sends that
digest with the one query that reads the page: the database leaves the rows out when it
still hashes to it, and the kept bytes are served. The check reads the same committed
state the rows would have been read from, so a kept answer is never served after a
change committed before the request's query. Bounded by bytes, least recently used out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

BUDGET_BYTES = 16 * 1024 * 1024  # per worker; a page of 1,000 positions is ~0.6 MiB


class Kept:
    def __init__(self, budget: int = BUDGET_BYTES) -> None:
        self._budget = budget
        self._size = 0
        self._entries: OrderedDict[Hashable, tuple[str, bytes]] = OrderedDict()
        self._lock = threading.Lock()  # sync routes run on a thread pool

    def get(self, key: Hashable) -> tuple[str, bytes] | None:
        """The digest and body kept for `key`, if any."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: Hashable, digest: str, body: bytes) -> None:
        if len(body) > self._budget:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= len(old[1])
            self._entries[key] = (digest, body)
            self._size += len(body)
            while self._size > self._budget:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._size -= len(dropped)
