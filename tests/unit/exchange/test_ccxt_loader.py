"""The cold-start path imports ccxt.base and one exchange module, not all of ccxt."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
{setup}
mods = sorted(m for m in sys.modules if m == "ccxt" or m.startswith("ccxt."))
print(json.dumps(mods))
"""


def ccxt_modules_after(setup: str) -> list[str]:
    """The ccxt modules a fresh interpreter holds after running `setup`."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(setup=setup)],
        capture_output=True,
        text=True,
        check=True,
    )
    modules: list[str] = json.loads(done.stdout.splitlines()[-1])
    return modules


def test_the_execute_order_path_loads_only_bybit() -> None:
    lazy = ccxt_modules_after(
        "from stratus.service.handlers import execution\n"
        "from stratus.adapters.ccxt_exchange import make_client\n"
        "from stratus.config import Settings\n"
        "from stratus.ports import ExchangeAccount\n"
        "make_client(ExchangeAccount('a', 'bybit', 'k', 's'), Settings())"
    )
    naive = ccxt_modules_after("import ccxt")
    assert "ccxt.bybit" in lazy
    assert "ccxt.binance" not in lazy
    assert "ccxt.binance" in naive
    assert len(lazy) * 5 < len(naive)  # measured: ~10 modules against ~200


def test_a_later_full_import_still_gets_the_whole_library() -> None:
    modules = ccxt_modules_after(
        "from stratus.adapters.ccxt_loader import exchange_class\n"
        "bybit = exchange_class('bybit')\n"
        "import ccxt\n"
        "assert ccxt.bybit is bybit, ccxt.bybit\n"
        "assert ccxt.binance().id == 'binance'\n"
        "assert 'bybit' in ccxt.exchanges"
    )
    assert "ccxt.binance" in modules


def test_the_paper_venue_imports_no_ccxt_until_an_error() -> None:
    modules = ccxt_modules_after(
        "from stratus.adapters.paper.venues import PaperVenues\n"
        "from stratus.adapters.clock import ManualClock\n"
        "from stratus.adapters.paper.feed import PriceFeed\n"
        "feed = PriceFeed.default()\n"
        "PaperVenues(ManualClock(feed.start)).for_account('a').market('BTC/USDT:USDT')"
    )
    assert modules == []
