"""Manager API latencies and fill throughput, over real HTTP (uvicorn on 127.0.0.1).

    .venv/bin/python -m bench.manager_api [--requests 200] [--backend postgres|sqlite|both]
                                          [--workers N] [--batch 50]

For each backend: GET /live as the baseline measured in the same run, then GET positions
(a page of 100) and the portfolio summary over 100 and 10,000 positions, the page again
with a mark changed (committed outside the manager, untimed) before each read, so that no
read is answered from the page a worker kept (PostgreSQL; docs/performance.md), and fill
application (POST /positions/update) from 1 and from 8 writers, each writer with positions
of its own (distinct from every other writer's) and its fills in execution order: first
one fill a request, what update_position sends (one Pub/Sub message is one execution),
then --batch fills a request (default 50), what a caller with that many executions at
hand sends (the endpoint takes up to 500; each fill is still applied exactly once by its
fill_id). Reported as p50/p95 and requests/s, as ratios to the baseline, fills/s with the
CPU the machine spent meanwhile (busy cores of /proc/stat, every process, ours or not),
and as the issue's targets met or missed (shown, never asserted): page p95 < 20 ms and
req/s at least half of /live's, 8 writers >= 5x one writer and >= 1,000 fills/s, summary
over 10,000 < 100 ms. --workers N serves the manager as production does, `uvicorn
--workers N` in its own processes (default: in this process, on a thread, sharing the
client's GIL).
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
from dataclasses import dataclass, replace
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
    rate: float  # requests/s
    fills: int = 0  # fills a request (fill scenarios)
    cores: float = 0.0  # CPU cores this bench's processes kept busy (fill scenarios)
    manager: float = 0.0  # of which the manager's processes
    machine: float = 0.0  # CPU cores the whole machine kept busy meanwhile

    @property
    def fill_rate(self) -> float:
        return self.rate * self.fills


def busy() -> tuple[int, int]:
    """The machine's CPU time so far (every process), busy and total, in ticks."""
    with open("/proc/stat") as stat:
        ticks = [int(t) for t in stat.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return sum(ticks) - idle, sum(ticks)


def workload_ticks(url: str) -> tuple[int, int, int]:
    """CPU time so far of this bench's own processes, in ticks: this one (the client),
    the manager it serves (its descendants), the PostgreSQL backends of its database."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(_stat(int(entry))[3])
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
    served, grew = {os.getpid()}, True
    while grew:
        found = {pid for pid, parent in parents.items() if parent in served} - served
        served |= found
        grew = bool(found)
    backends: set[int] = set()
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        admin = create_engine(POSTGRES)
        with admin.connect() as connection:
            query = text("SELECT pid FROM pg_stat_activity WHERE datname = :name")
            backends = set(connection.scalars(query, {"name": parsed.database}))
        admin.dispose()
    return _ticks({os.getpid()}), _ticks(served - {os.getpid()}), _ticks(backends)


def _ticks(pids: set[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = _stat(pid)
        except OSError:
            continue
        total += int(fields[13]) + int(fields[14])  # utime, stime
    return total


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as stat:
        text = stat.read()
    return [str(pid), "comm", *text[text.rindex(")") + 2 :].split()]


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
            base_url=f"http://127.0.0.1:{port}", headers=headers, limits=limits, timeout=120
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


def fill_of(run: str, writer: int, n: int) -> dict[str, object]:
    """The writer's n-th fill: its own 100 positions in turn, later than its fill n-1."""
    return {
        "fill_id": f"bench-{run}-{writer}-{n}",
        "client_order_id": f"stx-{run}-{writer}-{n}",
        "exchange_order_id": f"e{n}",
        "request_id": f"r{run}-{writer}-{n}",
        "account": f"{run}-w{writer}-{n % 100 // 20}",
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


class Writers:
    """Writers as update_position instances are: each thread of the pool is one, with
    positions of its own, posting `per_request` fills a request in execution order."""

    def __init__(self, client: httpx.Client, run: str, per_request: int) -> None:
        self._client, self._run, self._per_request = client, run, per_request
        self._local = threading.local()
        self._ids = iter(range(10**6))

    def post(self) -> httpx.Response:
        local = self._local
        if not hasattr(local, "writer"):
            local.writer, local.n = next(self._ids), 0
        fills = [fill_of(self._run, local.writer, local.n + i) for i in range(self._per_request)]
        local.n += self._per_request
        return self._client.post("/api/v1/positions/update", json={"fills": fills})


def fill_throughput(
    client: httpx.Client, url: str, name: str, per_request: int, requests: int, writers: int
) -> Result:
    posting = Writers(client, uuid.uuid4().hex[:6], per_request)
    machine, ours, began = busy(), workload_ticks(url), time.perf_counter()
    samples, rate = timed(posting.post, requests, threads=writers)
    elapsed = time.perf_counter() - began
    spent = [
        (b - a) / os.sysconf("SC_CLK_TCK") / elapsed
        for a, b in zip(ours, workload_ticks(url), strict=True)
    ]
    after = busy()
    share = (after[0] - machine[0]) / max(1, after[1] - machine[1]) * (os.cpu_count() or 1)
    result = summarize(name, samples, rate)
    return replace(result, fills=per_request, cores=sum(spent), manager=spent[1], machine=share)


def run_backend(url: str, requests: int, workers: int = 0, batch: int = 50) -> list[Result]:
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
        for per_request, runs in ((1, requests), (batch, max(20, requests // 2))):
            what = f"POST /positions/update, {per_request} fill{'s' if per_request > 1 else ''}"
            for writers in (1, 8):
                name = f"{what} a request, {writers} writer{'s' if writers > 1 else ''}"
                count = runs * (2 if writers > 1 else 1)
                results.append(fill_throughput(client, url, name, per_request, count, writers))
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
    lines += [
        "",
        f"positions page req/s / GET /live req/s: {page.rate / live.rate:.2f} "
        f"({changed.rate / live.rate:.2f} with a mark changed before each read)",
    ]
    checks = [
        ("positions page at 100: p95 < 20 ms", page.p95 < 20),
        ("positions page req/s >= half of /live's", page.rate >= live.rate / 2),
        ("summary at 100: p95 < 20 ms", _find(results, "summary", "100 positions").p95 < 20),
        ("summary over 10,000: p95 < 100 ms", _find(results, "summary", "10,000").p95 < 100),
    ]
    lines += [
        "",
        "| fills a request | writers | fills/s | p50 ms | cores busy: this bench | "
        "of which the manager | machine | fills per core-second of this bench |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.fills:
            writers = r.name.rsplit(", ", 1)[1].split()[0]
            lines.append(
                f"| {r.fills} | {writers} | {r.fill_rate:,.0f} | {r.p50:.1f} | "
                f"{r.cores:.2f} | {r.manager:.2f} | {r.machine:.2f} | "
                f"{r.fill_rate / max(r.cores, 0.01):,.0f} |"
            )
    for per_request in sorted({r.fills for r in results if r.fills}):
        one, eight = (
            next(r for r in results if r.fills == per_request and f", {w} writer" in r.name)
            for w in (1, 8)
        )
        label = f"{per_request} fill{'s' if per_request > 1 else ''} a request"
        lines.append(
            f"\n{label}: 8 writers / 1 writer fills/s {eight.fill_rate / one.fill_rate:.2f}x; "
            f"1 writer kept {one.cores:.2f} cores busy (client, manager, PostgreSQL), so on "
            f"{os.cpu_count()} cores 8 can do at most about "
            f"{(os.cpu_count() or 1) / max(one.cores, 0.01):.1f}x; the 8 kept {eight.cores:.2f}"
        )
        if one.manager:  # served in processes of its own (--workers)
            lines[-1] += (
                f". The manager alone took {one.manager:.2f}: with {os.cpu_count()} cores of "
                f"its own (Cloud Run), 8 could do about {(os.cpu_count() or 1) / one.manager:.1f}x"
            )
        checks += [
            (f"{label}: 8 writers >= 5x 1 writer", eight.fill_rate >= 5 * one.fill_rate),
            (f"{label}: 8 writers >= 1,000 fills/s", eight.fill_rate >= 1000),
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
    parser.add_argument(
        "--batch", type=int, default=50, help="fills a request in the batched fill runs"
    )
    args = parser.parse_args()
    served = f"{args.workers} worker processes" if args.workers else "in the bench's process"
    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    reports = []
    if args.backend in ("postgres", "both"):
        with scratch_postgres() as url:
            if url is not None:
                results = run_backend(url, args.requests, args.workers, args.batch)
                reports.append(table(f"PostgreSQL (pg8000), {served}", results))
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite:///{directory}/bench.db"
            results = run_backend(url, args.requests, args.workers, args.batch)
            reports.append(table(f"SQLite (embedded), {served}", results))
    print("\n\n".join(reports))


if __name__ == "__main__":
    main()
