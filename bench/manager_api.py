"""Manager API latencies and fill throughput, over real HTTP (uvicorn on 127.0.0.1).

    .venv/bin/python -m bench.manager_api [--requests 200] [--backend postgres|sqlite|both]
                                          [--workers N]

For each backend: GET /live as the baseline measured in the same run, then GET positions
(a page of 100) and the portfolio summary over 100 and 10,000 positions, the page again
with a mark changed (committed outside the manager, untimed) before each read, so that no
read is answered from the page a worker kept (PostgreSQL; docs/performance.md), and fill
application (POST /positions/update, one fill per request, distinct positions) from 1 and
from 8 writers. Reported as p50/p95 and requests/s, as ratios to the baseline, and as the
issue's targets met or missed (shown, never asserted): page p95 < 20 ms and req/s at least
half of /live's, 8 writers >= 5x one writer and >= 1,000 fills/s, summary over 10,000 <
100 ms. --workers N serves the manager as production does, `uvicorn --workers N` in its
own processes (default: in this process, on a thread, sharing the client's GIL).
PostgreSQL: STRATUS_TEST_POSTGRES_URL (default postgres@127.0.0.1:5432/test); a scratch
database is created and dropped.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import uvicorn
from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url

from stratus import migrations
from stratus.adapters.clock import ManualClock
from stratus.adapters.paper.venues import PaperVenues
from stratus.adapters.sql.db import make_engine
from stratus.adapters.sql.tables import MarkRow, PositionRow
from stratus.config import Settings
from stratus.crypto import dev_master_key
from stratus.manager.app import create_app
from stratus.service.bootstrap import build

POSTGRES = os.environ.get(
    "STRATUS_TEST_POSTGRES_URL", "postgresql+pg8000://postgres@127.0.0.1:5432/test"
)
TOKEN = "stx_bench-admin-token"
START = datetime(2026, 3, 2, tzinfo=UTC)
SYMBOLS = [f"C{n:03d}/USDT" for n in range(100)]


class Key:
    def get(self, name: str) -> str:
        return dev_master_key("bench")


@dataclass(frozen=True)
class Result:
    name: str
    p50: float
    p95: float
    rate: float


def timed(
    call: Callable[[], httpx.Response],
    count: int,
    threads: int = 1,
    before: Callable[[], object] | None = None,
) -> tuple[list[float], float]:
    """Latencies of `count` calls and their rate; `before` runs ahead of each call,
    outside its time (the rate is then of the calls' own time)."""

    def one(_: int) -> float:
        if before is not None:
            before()
        began = time.perf_counter()
        response = call()
        elapsed = time.perf_counter() - began
        if response.status_code >= 400:
            raise RuntimeError(f"{response.status_code}: {response.text[:200]}")
        return elapsed

    began = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        samples = list(pool.map(one, range(count)))
    elapsed = time.perf_counter() - began if before is None else sum(samples)
    return samples, count / elapsed


def summarize(name: str, samples: list[float], rate: float) -> Result:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return Result(name, statistics.median(ordered) * 1000, p95 * 1000, rate)


@contextmanager
def serve(url: str, workers: int = 0) -> Iterator[httpx.Client]:
    """The manager on a free port: in this process (workers=0) or `workers` processes."""
    serving = _in_process(url) if workers == 0 else _processes(url, workers)
    with serving as port:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers=headers, limits=limits
        ) as client:
            yield client


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def _processes(url: str, workers: int) -> Iterator[int]:
    # Built once here first: the stores this stack keeps beside the system of record (the
    # paper venues, the execution state) create their tables on first use, and N workers
    # creating them at once would fail all but one. (Production keeps those in Firestore.)
    build(Settings(database_url=url)).ledger.database.engine.dispose()  # type: ignore[attr-defined]
    port = _free_port()
    env = {
        **os.environ,
        "STRATUS_DATABASE_URL": url,
        "STRATUS_MANAGER_DEV_TOKEN": TOKEN,
        "STRATUS_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "stratus.manager.app:create_app"]
    command += ["--port", str(port), "--workers", str(workers), "--no-access-log"]
    command += ["--log-level", "warning"]
    server = subprocess.Popen(command, env=env)
    try:
        for _ in range(600):  # up to a minute for every worker to import and start
            try:
                if httpx.get(f"http://127.0.0.1:{port}/live").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextmanager
def _in_process(url: str) -> Iterator[int]:
    clock = ManualClock(START)
    settings = Settings(database_url=url, manager_dev_token=TOKEN)
    services = build(settings, clock=clock, exchanges=PaperVenues(clock), secrets=Key())
    app = create_app(services)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield port
    server.should_exit = True
    thread.join()
    services.ledger.database.engine.dispose()  # type: ignore[attr-defined]


def seed(url: str, count: int) -> None:
    """`count` open positions (100 symbols, accounts of 100 positions) and their marks."""
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM positions"))
        rows = [_position(n) for n in range(count)]
        for chunk in range(0, len(rows), 2000):
            connection.execute(insert(PositionRow), rows[chunk : chunk + 2000])
        connection.execute(text("DELETE FROM marks"))
        marks = [
            {"symbol": s, "price": Decimal(100 + i), "updated_at": START}
            for i, s in enumerate(SYMBOLS)
        ]
        connection.execute(insert(MarkRow), marks)
    engine.dispose()


def change_mark(url: str) -> None:
    """A new price for the page's first symbol, committed outside the manager."""
    engine = _engines.get(url) or _engines.setdefault(url, make_engine(url))
    with engine.begin() as connection:
        connection.execute(
            text(f"UPDATE marks SET price = price + 1 WHERE symbol = '{SYMBOLS[0]}'")
        )


_engines: dict[str, Engine] = {}


def _position(n: int) -> dict[str, object]:
    quantity = Decimal(n % 7 + 1) * (1 if n % 3 else -1)
    zero = Decimal(0)
    return {
        "account": f"acct-{n // 100}",
        "strategy": "trend",
        "symbol": SYMBOLS[n % 100],
        "asset": SYMBOLS[n % 100].split("/")[0],
        "mode": "spot",
        "is_open": True,
        "quantity": quantity,
        "average_entry": Decimal(95 + n % 10),
        "realized_pnl": Decimal(n % 5),
        "fees": Decimal("0.1"),
        "closing_fills": n % 4,
        "winning_fills": n % 2,
        "gross_profit": Decimal(n % 5),
        "gross_loss": zero,
        "updated_at": START,
        "version": 1,
    }


def fill_body(n: int) -> dict[str, object]:
    return {
        "fills": [
            {
                "fill_id": f"bench-{n}",
                "client_order_id": f"stx-{n}",
                "exchange_order_id": f"e{n}",
                "request_id": f"r{n}",
                "account": f"fills-{n % 50}",
                "strategy": "trend",
                "symbol": SYMBOLS[n % 20],
                "side": "buy" if n % 3 else "sell",
                "quantity": "1",
                "price": str(100 + n % 9),
                "fee": "0.01",
                "fee_currency": "USDT",
                "liquidity": "taker",
                "executed_at": (START + timedelta(seconds=n)).isoformat(),
            }
        ]
    }


def run_backend(url: str, requests: int, workers: int = 0) -> list[Result]:
    results: list[Result] = []
    with serve(url, workers) as client:
        for _ in range(50):  # warm up connections, caches, the statement cache
            client.get("/live")
            client.get("/api/v1/positions")
        results.append(
            summarize("GET /live (baseline)", *timed(lambda: client.get("/live"), requests))
        )
        for count in (100, 10_000):
            seed(url, count)
            page = lambda: client.get("/api/v1/positions", params={"limit": 100})  # noqa: E731
            summary = lambda: client.get("/api/v1/portfolio/summary")  # noqa: E731
            runs = requests if count == 100 else max(20, requests // 5)
            results.append(
                summarize(f"GET /positions (page of 100), {count:,} positions", *timed(page, runs))
            )
            if count == 100:  # the page re-read after each change: never a kept answer
                results.append(
                    summarize(
                        "GET /positions (page of 100), 100 positions, a mark changed before each",
                        *timed(page, runs, before=lambda: change_mark(url)),
                    )
                )
            results.append(
                summarize(f"GET /portfolio/summary, {count:,} positions", *timed(summary, runs))
            )
        counter = iter(range(10**9))
        post = lambda: client.post("/api/v1/positions/update", json=fill_body(next(counter)))  # noqa: E731
        results.append(summarize("POST /positions/update, 1 writer", *timed(post, requests)))
        results.append(
            summarize("POST /positions/update, 8 writers", *timed(post, requests * 2, threads=8))
        )
    if url in _engines:
        _engines.pop(url).dispose()
    return results


@contextmanager
def scratch_postgres() -> Iterator[str | None]:
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    name = f"stratus_bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # unreachable: report and bench SQLite only
        print(f"PostgreSQL unavailable ({error.__class__.__name__}): skipping it")
        yield None
        return
    url = make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def table(backend: str, results: list[Result]) -> str:
    base = results[0]
    lines = [
        f"### {backend}",
        "",
        "| scenario | p50 ms | p95 ms | req/s | p50 / baseline | req/s / baseline |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.p50:.2f} | {r.p95:.2f} | {r.rate:,.0f} | "
            f"{r.p50 / base.p50:.1f}x | {r.rate / base.rate:.2f}x |"
        )
    live = _find(results, "/live")
    page = _find(results, "/positions", "100 positions")  # the first: none changed
    changed = _find(results, "/positions", "changed")
    one, eight = _find(results, "1 writer"), _find(results, "8 writers")
    lines += [
        "",
        f"positions page req/s / GET /live req/s: {page.rate / live.rate:.2f} "
        f"({changed.rate / live.rate:.2f} with a mark changed before each read); "
        f"8 writers / 1 writer fills/s: {eight.rate / one.rate:.2f}x",
    ]
    checks = [
        ("positions page at 100: p95 < 20 ms", page.p95 < 20),
        ("positions page req/s >= half of /live's", page.rate >= live.rate / 2),
        ("summary at 100: p95 < 20 ms", _find(results, "summary", "100 positions").p95 < 20),
        ("summary over 10,000: p95 < 100 ms", _find(results, "summary", "10,000").p95 < 100),
        ("8 writers >= 5x 1 writer", eight.rate >= 5 * one.rate),
        ("8 writers >= 1,000 fills/s", eight.rate >= 1000),
    ]
    lines += [
        "",
        "Targets: " + "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in checks),
    ]
    return "\n".join(lines)


def _find(results: list[Result], *parts: str) -> Result:
    return next(r for r in results if all(part in r.name for part in parts))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--backend", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument(
        "--workers", type=int, default=0, help="uvicorn worker processes (0: in this process)"
    )
    args = parser.parse_args()
    served = f"{args.workers} worker processes" if args.workers else "in the bench's process"
    reports = []
    if args.backend in ("postgres", "both"):
        with scratch_postgres() as url:
            if url is not None:
                results = run_backend(url, args.requests, args.workers)
                reports.append(table(f"PostgreSQL (pg8000), {served}", results))
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite:///{directory}/bench.db"
            results = run_backend(url, args.requests, args.workers)
            reports.append(table(f"SQLite (embedded), {served}", results))
    print("\n\n".join(reports))


if __name__ == "__main__":
    main()
