"""The paper venue store in this process' memory: the default of a PaperExchange, for
tests, replays and one-process stacks (the `PaperVenueStore` port; durable stores:
adapters.sql.paper_venues, adapters.firestore_paper_venues)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from stratus.domain.errors import ConcurrentUpdate
from stratus.ports import FinishedOrder, StoredVenue


class MemoryVenueStore:
    def __init__(self) -> None:
        self._venues: dict[str, StoredVenue] = {}
        self._finished: dict[str, dict[str, FinishedOrder]] = {}  # account -> order id -> order
        self._lock = threading.Lock()

    def load(self, account: str) -> StoredVenue | None:
        with self._lock:
            return self._venues.get(account)

    def save(
        self, account: str, version: int, document: str, finished: Sequence[FinishedOrder]
    ) -> None:
        with self._lock:
            stored = self._venues.get(account)
            if (0 if stored is None else stored.version) != version:
                raise ConcurrentUpdate(f"paper venue {account} moved on")
            self._venues[account] = StoredVenue(version + 1, document)
            history = self._finished.setdefault(account, {})
            history.update((order.order_id, order) for order in finished)

    def finished_orders(
        self, account: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> list[str]:
        with self._lock:
            history = self._finished.get(account, {})
            return [
                order.document
                for order in history.values()
                if (order_id is None or order.order_id == order_id)
                and (client_order_id is None or order.client_order_id == client_order_id)
            ]

    def accounts(self) -> list[str]:
        with self._lock:
            return sorted(self._venues)
