"""Serve the paper Bybit v5 API over HTTP on this machine (tests, the emulator stack).

    python -m stratus.adapters.paper.bybit_http --port 8901 --api-key k --secret s

then run Stratus with STRATUS_EXCHANGE=ccxt, STRATUS_EXCHANGE_API_URL=http://127.0.0.1:8901
and an `exchange-accounts` secret naming bybit with that key and secret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stratus.adapters.paper.bybit_server import BybitV5
from stratus.adapters.paper.feed import PriceFeed
from stratus.adapters.paper.served import Served, paper_accounts, serve
from stratus.ports import Clock, PaperVenueStore

__all__ = ["ServedBybit", "main", "paper_bybit"]

ServedBybit = Served[BybitV5]


def paper_bybit(
    credentials: Mapping[str, str],
    clock: Clock,
    feed: PriceFeed | None = None,
    store: PaperVenueStore | None = None,
    **options: Any,
) -> BybitV5:
    """A BybitV5 app with a paper venue per API key (key -> secret), kept in `store`."""
    return BybitV5(paper_accounts(credentials, clock, feed, store), **options)


def main(argv: Sequence[str] | None = None) -> int:
    return serve(argv, "paper Bybit v5", 8901, "bybit", BybitV5)


if __name__ == "__main__":
    raise SystemExit(main())
