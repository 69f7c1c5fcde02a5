"""Cold start of execute_order against naive exchange handling, in fresh processes.

    .venv/bin/python -m bench.cold_start [--runs 7]

Every row is a fresh interpreter placing one market order on the paper Bybit v5 server
(127.0.0.1). A handler row is timed from process launch until the handler returns; the
bare ccxt row until create_order returns (interpreter teardown is not part of a cold
start):

- execute_order: what a function instance does on its first message, on the embedded
  default. Import, build the services (SQL state store and system of record, the
  account's keys decrypted, markets from the SQL market cache via set_markets), then
  deliver one approved OrderRequest through dispatch.deliver: intent, send lease, create,
  fill lookup, order ledger, fills published.
- execute_order, naive exchange layer: the same handler, stack and order, with the
  exchange client made the naive way: `import ccxt` (every exchange), ccxt's default
  options and rate limiter, load_markets on the first order instead of the cache.
- exchange layer alone: ccxt adapter and gateway, markets from a packed file; no handler.
- bare ccxt: `import ccxt`, bybit with default options, load_markets, create_order.

Target: execute_order at most 40% of the naive baseline. The main ratio compares the
two execute_order rows, which differ only in the exchange layer; the ratio to bare ccxt
(no handler, no settings, no state) is printed beside it.
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

from stratus.adapters.clock import SystemClock
from stratus.adapters.market_blob import pack
from stratus.adapters.paper.bybit_http import ServedBybit, paper_bybit
from stratus.config import Settings
from stratus.service.bootstrap import build

KEY, SECRET = "bench-key", "bench-secret"

EXECUTE_ORDER = """
import sys
import time
from stratus.config import Settings
from stratus.contracts import codec
from stratus.domain.orders import OrderRequest
from stratus.service.bootstrap import build
from stratus.service.dispatch import deliver

class Outbox:  # the bus: stores what is published, as Pub/Sub's publish would
    def __init__(self):
        self.topics = []
    def publish(self, topic, data, attributes):
        self.topics.append(topic)

settings = Settings(exchange="ccxt", exchange_api_url={url!r}, database_url={db!r})
services = build(settings, bus=Outbox())
request = OrderRequest.model_validate(dict(
    request_id={rid!r}, signal_id={rid!r}, leg=0, account="bench", strategy="bench",
    symbol="BTC/USDT:USDT", side="buy", order_type="market", quantity="0.001",
    reference_price={price!r}, created_at="2026-01-01T00:00:00+00:00"))
{exchange_layer}deliver(services, "execute_order", codec.encode("orders", request), {{}}, None)
assert services.bus.topics == ["executions"], services.bus.topics
print(time.monotonic(), sum(1 for m in sys.modules if m.startswith("ccxt")))
"""

# The naive exchange layer, swapped into the same services before the first message.
NAIVE_EXCHANGES = """import ccxt
from stratus.adapters.exchange_gateway import ExchangeGateway

class NaiveExchanges:
    def __init__(self, accounts):
        self.accounts = accounts
    def for_account(self, name):
        account = self.accounts.exchange_account(name)
        client = getattr(ccxt, account.exchange_id)(
            {{"apiKey": account.api_key, "secret": account.secret, "enableRateLimit": True}})
        client.urls["api"] = {{host: {url!r} for host in client.urls["api"]}}
        client.load_markets()
        return ExchangeGateway(client)

services.exchanges = NaiveExchanges(services.accounts)
"""

# The exchange layer alone: no handler module, no SQL; markets from a packed file.
LAYER = """
import sys
import time
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
print(time.monotonic(), sum(1 for m in sys.modules if m.startswith("ccxt")))
"""

BARE_CCXT = """
import sys
import time
import ccxt
exchange = ccxt.bybit()
exchange.urls["api"] = {{name: {url!r} for name in exchange.urls["api"]}}
exchange.load_markets()
exchange.apiKey, exchange.secret = {key!r}, {secret!r}
order = exchange.create_order("BTC/USDT:USDT", "market", "buy", 0.001, None,
                              {{"clientOrderId": {rid!r}}})
assert order["id"], order
print(time.monotonic(), sum(1 for m in sys.modules if m.startswith("ccxt")))
"""


def timed(code: str) -> tuple[float, int]:
    """Seconds from launch to the order's acknowledgement, and the ccxt modules imported.

    The child stamps the acknowledgement with time.monotonic(), a system-wide clock on
    Linux and macOS; interpreter teardown after it is not part of a cold start."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    acknowledged, modules = done.stdout.split()[-2:]
    return float(acknowledged) - started, int(modules)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    with (
        tempfile.TemporaryDirectory() as tmp,
        ServedBybit(paper_bybit({KEY: SECRET}, SystemClock())) as served,
    ):
        db = f"sqlite:///{Path(tmp) / 'stratus.db'}"
        settings = Settings(exchange="ccxt", exchange_api_url=served.url, database_url=db)
        markets, price = warm_up(settings)
        blob = Path(tmp) / "markets.bin"
        blob.write_bytes(pack(markets))
        fields = {"key": KEY, "secret": SECRET, "url": served.url, "db": db, "blob": str(blob)}
        rows = {  # name: (child program, code run before the order is delivered)
            "execute_order": (EXECUTE_ORDER, ""),
            "naive_execute_order": (EXECUTE_ORDER, NAIVE_EXCHANGES.format(url=served.url)),
            "layer": (LAYER, ""),
            "bare_ccxt": (BARE_CCXT, ""),
        }
        results: dict[str, list[float]] = {name: [] for name in rows}
        modules: dict[str, int] = {}
        for run in range(runs):  # interleaved, so drift hits every row alike
            for name, (template, exchange_layer) in rows.items():
                code = template.format(
                    rid=f"bench-{name}-{run}", price=price, exchange_layer=exchange_layer, **fields
                )
                seconds, modules[name] = timed(code)
                results[name].append(seconds)
    print_table(results, modules, runs)
    return 0


def warm_up(settings: Settings) -> tuple[dict[str, Any], str]:
    """The account in the system of record and its markets in the cache, as an earlier
    instance and the operator would have left them; and a price for the order."""
    services = build(settings)
    services.accounts.create(  # type: ignore[attr-defined]
        "bench", KEY, SECRET, exchange_id="bybit", label="bench", currency="USDT",
        sandbox=False, demo=False,
    )  # fmt: skip
    venue = services.exchanges.for_account("bench")
    markets: dict[str, Any] = venue.client.markets  # type: ignore[attr-defined]
    return markets, str(venue.quote("BTC/USDT:USDT").ask)


ROWS = {
    "naive_execute_order": "execute_order, naive exchange layer (import ccxt, load_markets)",
    "execute_order": "execute_order, first message of a fresh instance",
    "bare_ccxt": "bare ccxt: import ccxt + load_markets + create_order, no handler",
    "layer": "exchange layer alone, cached markets, no handler",
}


def print_table(results: dict[str, list[float]], modules: dict[str, int], runs: int) -> None:
    median = {name: statistics.median(seconds) for name, seconds in results.items()}
    print(f"\nCold start to first order, median of {runs} fresh processes\n")
    print("| path | median s | min s | ccxt modules | vs naive execute_order | vs bare ccxt |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, label in ROWS.items():
        print(
            f"| {label} | {median[name]:.3f} | {min(results[name]):.3f} | {modules[name]} "
            f"| {median[name] / median['naive_execute_order']:.0%} "
            f"| {median[name] / median['bare_ccxt']:.0%} |"
        )
    ratio = median["execute_order"] / median["naive_execute_order"]
    verdict = "meets" if ratio <= 0.4 else "misses"
    print(f"\nTarget: execute_order <= 40% of naive execute_order: {ratio:.0%}, {verdict}.")
    print(json.dumps({k: [round(v, 3) for v in vs] for k, vs in results.items()}))


if __name__ == "__main__":
    raise SystemExit(main())
