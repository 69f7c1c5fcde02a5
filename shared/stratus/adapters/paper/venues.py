"""Paper venues: one paper exchange per account, all on one shared price feed, kept in
one venue store (durable: every process on that store trades on the same venues).
With conditional_orders=False they simulate venues without conditional orders (Stratus
then watches its exits' triggers against marks)."""

from __future__ import annotations

import threading

from stratus.adapters.exchange_gateway import ExchangeGateway
from stratus.adapters.paper.exchange import PaperExchange
from stratus.adapters.paper.feed import PriceFeed
from stratus.adapters.paper.memory_store import MemoryVenueStore
from stratus.ports import Clock, PaperVenueStore


class PaperVenues:
    def __init__(
        self,
        clock: Clock,
        feed: PriceFeed | None = None,
        store: PaperVenueStore | None = None,
        *,
        conditional_orders: bool = True,
    ) -> None:
        self._clock = clock
        self._conditional_orders = conditional_orders
        self.feed = feed or PriceFeed.default()
        self._store: PaperVenueStore = store if store is not None else MemoryVenueStore()
        self._gateways: dict[str, ExchangeGateway] = {}
        self._lock = threading.Lock()

    def for_account(self, account: str) -> ExchangeGateway:
        with self._lock:
            gateway = self._gateways.get(account)
            if gateway is None:
                exchange = PaperExchange(
                    self.feed,
                    self._clock,
                    store=self._store,
                    account=account,
                    conditional_orders=self._conditional_orders,
                )
                gateway = ExchangeGateway(exchange)
                self._gateways[account] = gateway
            return gateway

    def accounts(self) -> list[str]:
        """Accounts opened here, and those whose venue is stored (by any process)."""
        with self._lock:
            opened = set(self._gateways)
        return sorted(opened.union(self._store.accounts()))
