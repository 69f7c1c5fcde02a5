"""Tickers by asking each account's venue for its quotes: the paper venue (whose feed is
in this process, so asking costs nothing), or any exchange over REST where no stream is
wanted. Each mark is stamped when the venue was asked: it is the price at that moment."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from stratus.domain.errors import ExchangeError, PermanentError
from stratus.domain.market import Mark, Marks
from stratus.ports import Clock, Exchanges

log = logging.getLogger(__name__)


class PolledTickers:
    def __init__(self, exchanges: Exchanges, clock: Clock, source: str = "paper") -> None:
        self._exchanges = exchanges
        self._clock = clock
        self._source = source
        self._symbols: dict[str, set[str]] = {}

    def follow(self, symbols: Mapping[str, set[str]]) -> None:
        self._symbols = {account: set(held) for account, held in symbols.items()}

    def marks(self) -> list[Marks]:
        quoted: dict[str, Mark] = {}
        for account, symbols in sorted(self._symbols.items()):
            for symbol in sorted(symbols - set(quoted)):
                try:
                    quote = self._exchanges.for_account(account).quote(symbol)
                except (ExchangeError, PermanentError) as trouble:
                    log.warning("no quote for %s: %s", symbol, trouble)
                    continue
                quoted[symbol] = Mark(symbol=symbol, price=quote.mid, at=self._clock.now())
        return [Marks(exchange=self._source, marks=list(quoted.values()))] if quoted else []

    def close(self) -> None:
        pass
