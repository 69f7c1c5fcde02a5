"""Serve the paper Binance USDⓈ-M futures API over HTTP on this machine (tests, the
emulator stack).

    python -m stratus.adapters.paper.binance_http --port 8902 --api-key k --secret s

then run Stratus with STRATUS_EXCHANGE=ccxt, STRATUS_EXCHANGE_API_URL=http://127.0.0.1:8902
and an account naming binance with that key and secret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stratus.adapters.paper.binance_server import BinanceFutures
from stratus.adapters.paper.feed import PriceFeed
from stratus.adapters.paper.served import Served, paper_accounts, serve
from stratus.ports import Clock, PaperVenueStore

__all__ = ["ServedBinance", "main", "paper_binance"]

ServedBinance = Served[BinanceFutures]


def paper_binance(
    credentials: Mapping[str, str],
    clock: Clock,
    feed: PriceFeed | None = None,
    store: PaperVenueStore | None = None,
    **options: Any,
) -> BinanceFutures:
    """A BinanceFutures app with a paper venue per API key (key -> secret), kept in
    `store`."""
    return BinanceFutures(paper_accounts(credentials, clock, feed, store), **options)


def main(argv: Sequence[str] | None = None) -> int:
    return serve(argv, "paper Binance USDⓈ-M futures", 8902, "binance", BinanceFutures)


if __name__ == "__main__":
    raise SystemExit(main())
