"""Paper venues: one paper exchange per account, all on one shared price feed."""

from __future__ import annotations

import threading

from stratus.adapters.exchange_gateway import ExchangeGateway
from stratus.adapters.paper.exchange import PaperExchange
from stratus.adapters.paper.feed import PriceFeed
from stratus.ports import Clock


class PaperVenues:
    def __init__(self, clock: Clock, feed: PriceFeed | None = None) -> None:
        self._clock = clock
        self.feed = feed or PriceFeed.default()
        self._gateways: dict[str, ExchangeGateway] = {}
        self._lock = threading.Lock()

    def for_account(self, account: str) -> ExchangeGateway:
        with self._lock:
            gateway = self._gateways.get(account)
            if gateway is None:
                gateway = ExchangeGateway(PaperExchange(self.feed, self._clock))
                self._gateways[account] = gateway
            return gateway

    def accounts(self) -> list[str]:
        return sorted(self._gateways)
