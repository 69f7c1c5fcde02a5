"""Cold start of execute_order's exchange path against a naive ccxt baseline.

    .venv/bin/python -m bench.cold_start [--runs 5]

Both sides are fresh interpreters placing one market order on the paper Bybit v5 server
(127.0.0.1), timed from process launch to the order's acknowledgement:

- stratus: import the execute_order path (handler, gateway, ccxt adapter), build the
  account's client with markets from the SQL market cache (set_markets), place.
- layer: the same without the handler module and SQL (markets from a packed file): what
  the exchange layer itself costs.
- naive: `import ccxt`, bybit with default options, load_markets, create_order.

Target: stratus at most 40% of the naive baseline.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from stratus.adapters.ccxt_exchange import CcxtExchanges
from stratus.adapters.market_blob import pack
from stratus.adapters.paper.bybit_http import FeedClock, ServedBybit, paper_bybit
from stratus.adapters.paper.feed import PriceFeed
from stratus.adapters.sql.db import Database
from stratus.adapters.sql.market_cache import SqlMarketCache
from stratus.config import Settings
from stratus.ports import ExchangeAccount

KEY, SECRET = "bench-key", "bench-secret"

STRATUS = """
import sys
from stratus.service.handlers import execution  # the execute_order path
from stratus.adapters.ccxt_exchange import CcxtExchanges
from stratus.adapters.sql.db import Database
from stratus.adapters.sql.market_cache import SqlMarketCache
from stratus.adapters.clock import SystemClock
from stratus.config import Settings
from stratus.domain.orders import OrderRequest
from stratus.ports import ExchangeAccount

class Directory:
    def exchange_account(self, name):
        return ExchangeAccount(name, "bybit", {key!r}, {secret!r})
    def accounts(self):
        return ["bench"]

settings = Settings(exchange="ccxt", exchange_api_url={url!r}, database_url={db!r})
cache = SqlMarketCache(Database.from_url({db!r}), SystemClock())
venue = CcxtExchanges(settings, Directory(), cache).for_account("bench")
request = OrderRequest.model_validate(dict(
    request_id={rid!r}, signal_id={rid!r}, leg=0, account="bench", strategy="bench",
    symbol="BTC/USDT:USDT", side="buy", order_type="market", quantity="0.001",
    created_at="2026-01-01T00:00:00+00:00"))
placed = venue.place(request)
assert placed.filled > 0, placed
print(sum(1 for m in sys.modules if m.startswith("ccxt")))
"""

# The exchange layer alone: no handler module, no SQL; markets from a packed file.
LAYER = """
import sys
from pathlib import Path
from typing import Any
from stratus.adapters.ccxt_exchange import make_client
from stratus.adapters.exchange_gateway import ExchangeGateway
from stratus.adapters.market_blob import unpack
from stratus.config import Settings
from stratus.domain.orders import OrderRequest
from stratus.ports import ExchangeAccount

settings = Settings(exchange="ccxt", exchange_api_url={url!r})
client = make_client(ExchangeAccount("bench", "bybit", {key!r}, {secret!r}), settings)
client.set_markets(unpack(Path({blob!r}).read_bytes()))
request = OrderRequest.model_validate(dict(
    request_id={rid!r}, signal_id={rid!r}, leg=0, account="bench", strategy="bench",
    symbol="BTC/USDT:USDT", side="buy", order_type="market", quantity="0.001",
    created_at="2026-01-01T00:00:00+00:00"))
placed = ExchangeGateway(client).place(request)
assert placed.filled > 0, placed
print(sum(1 for m in sys.modules if m.startswith("ccxt")))
"""

NAIVE = """
import sys
import ccxt
exchange = ccxt.bybit()
exchange.urls["api"] = {{name: {url!r} for name in exchange.urls["api"]}}
exchange.load_markets()
exchange.apiKey, exchange.secret = {key!r}, {secret!r}
order = exchange.create_order("BTC/USDT:USDT", "market", "buy", 0.001, None,
                              {{"clientOrderId": {rid!r}}})
assert order["id"], order
print(sum(1 for m in sys.modules if m.startswith("ccxt")))
"""


def timed(code: str) -> tuple[float, int]:
    """Wall seconds from launch to exit, and the ccxt modules the process imported."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return elapsed, int(done.stdout.split()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    feed = PriceFeed.default()
    with (
        tempfile.TemporaryDirectory() as tmp,
        ServedBybit(paper_bybit({KEY: SECRET}, FeedClock(feed), feed)) as served,
    ):
        db = f"sqlite:///{Path(tmp) / 'cache.db'}"
        settings = Settings(exchange="ccxt", exchange_api_url=served.url, database_url=db)
        blob = Path(tmp) / "markets.bin"
        blob.write_bytes(pack(warm_up(settings, db)))
        results: dict[str, list[float]] = {"stratus": [], "layer": [], "naive": []}
        modules: dict[str, int] = {}
        for run in range(runs):  # interleaved, so drift hits both sides alike
            fields = {"key": KEY, "secret": SECRET, "url": served.url, "db": db, "blob": str(blob)}
            for name, template in (("stratus", STRATUS), ("layer", LAYER), ("naive", NAIVE)):
                code = template.format(rid=f"bench-{name}-{run}", **fields)
                seconds, modules[name] = timed(code)
                results[name].append(seconds)
    print_table(results, modules, runs)
    return 0


def warm_up(settings: Settings, db: str) -> dict[str, Any]:
    """Fill the market cache once, as an earlier instance would have."""

    class Directory:
        def exchange_account(self, name: str) -> ExchangeAccount:
            return ExchangeAccount(name, "bybit", KEY, SECRET)

        def accounts(self) -> list[str]:
            return ["bench"]

    cache = SqlMarketCache(Database.from_url(db), FeedClock(PriceFeed.default()))
    markets: dict[str, Any] = (
        CcxtExchanges(settings, Directory(), cache).for_account("bench").client.markets
    )
    return markets


def print_table(results: dict[str, list[float]], modules: dict[str, int], runs: int) -> None:
    baseline = statistics.median(results["naive"])
    print(f"\nCold start to first order acknowledged, median of {runs} fresh processes\n")
    print("| path | median s | min s | ccxt modules | vs naive |")
    print("|---|---:|---:|---:|---:|")
    for name, label in (
        ("naive", "naive: import ccxt + load_markets + create_order"),
        ("stratus", "stratus: execute_order path, SQL-cached markets"),
        ("layer", "stratus exchange layer alone, cached markets"),
    ):
        median = statistics.median(results[name])
        ratio = median / baseline
        print(
            f"| {label} | {median:.3f} | {min(results[name]):.3f} | {modules[name]} | {ratio:.0%} |"
        )
    verdict = "meets" if statistics.median(results["stratus"]) <= 0.4 * baseline else "misses"
    print(f"\nTarget <= 40% of baseline: {verdict}.")
    print(json.dumps({k: [round(v, 3) for v in vs] for k, vs in results.items()}))


if __name__ == "__main__":
    raise SystemExit(main())
