"""Production-like latency and memory: the local emulator stack, beside the embedded figure
of bench.pipeline measured in the same run.

    make bench-emulator
    .venv/bin/python -m bench.emulator_latency --signals 50 --burst 50 --database postgres

The stack is `stratus.local.stack.Stack` as `stratus up --emulators` starts it: the
Pub/Sub emulator pushing (through the push relay) to one functions-framework server per
function, order state and paper venues in the Firestore emulator, the system of record in
PostgreSQL (a scratch database; SQLite when PostgreSQL is unreachable) and the manager.
Its execute_order is bench/timed_main.py: the real target with its venues timed.

- Latency: signals are posted one at a time, signed, to the ingest_signal server over
  HTTP; "accepted" is its 202 back at the client, "acknowledged" the moment the paper
  exchange returned from create inside execute_order (wall clock, one machine). Each
  signal waits for the previous one's fill to reach the ledger, so none queues behind
  another: the figure is the path's own latency, as the embedded one is.
- Memory: after the latency run, a burst of signals is posted from several threads at
  once, then each schedule's function is called once; the peak memory of each function's
  process group is sampled throughout (bench/rss.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from bench.pipeline import QUANTITIES, SYMBOLS, percentile, run_pipeline
from bench.rss import PeakSampler
from stratus.adapters.sql.db import Database
from stratus.adapters.sql.ledger import SqlLedger
from stratus.config import Settings
from stratus.local.emulators import INSTALL_HINT
from stratus.local.scheduler import http_job
from stratus.local.stack import Stack, StackConfig
from stratus.observability import configure_logging
from stratus.scheduling import headers_for
from stratus.service.handlers import ingest

HERE = Path(__file__).resolve().parent
SOURCE, SECRET = "bench", "bench-webhook-secret"
ACCOUNT = "bench-emulator"
WAIT_SECONDS = 60.0  # for one signal's acknowledgement or fill before giving up


def signal(number: int) -> dict[str, Any]:
    symbol = SYMBOLS[number % len(SYMBOLS)]
    return {
        "signal_id": f"emu-{number}",
        "account": ACCOUNT,
        "strategy": f"s{number % 4}",
        "symbol": symbol,
        "action": "buy" if (number // len(SYMBOLS)) % 2 == 0 else "sell",
        "quantity": QUANTITIES[symbol],
        "confidence": 1.0,  # market orders: they fill at once on the paper exchange
        "created_at": datetime.now(UTC).isoformat(),
    }


def post_signal(url: str, number: int) -> float:
    """POST one signed signal to the webhook; the wall clock time its 202 came back."""
    body = json.dumps(signal(number)).encode()
    headers = ingest.signed_headers(SOURCE, SECRET, str(int(time.time())), body)
    request = urllib.request.Request(
        url, data=body, method="POST", headers={**headers, "Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        if reply.status != 202:
            raise SystemExit(f"signal {number} refused: {reply.status} {reply.read()!r}")
    return time.time()


def read_acks(journal: Path) -> dict[str, float]:
    """signal_id -> when the exchange acknowledged its order (the first line of each)."""
    acks: dict[str, float] = {}
    if journal.exists():
        for line in journal.read_text().splitlines():
            signal_id, _, at = line.partition(" ")
            acks.setdefault(signal_id, float(at))
    return acks


def acked(journal: Path, signal_id: str) -> bool:
    return signal_id in read_acks(journal)


def wait_until(done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not within {WAIT_SECONDS:.0f} s (see the stack's logs)")
        time.sleep(0.002)


def open_account(stack: Stack) -> None:
    """The paper account, through the manager's API (unknown accounts never trade)."""
    body = {"account": ACCOUNT, "exchange_id": "paper", "api_key": "paper", "secret": "paper"}
    token = Settings().manager_dev_token.get_secret_value()
    request = urllib.request.Request(
        f"{stack.endpoints.manager}/api/v1/accounts",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert reply.status == 201, reply.status


def measure_stack(
    stack: Stack, journal: Path, signals: int, burst: int
) -> tuple[list[float], PeakSampler]:
    webhook = stack.endpoints.functions["ingest_signal"]
    ledger = SqlLedger(Database.from_url(stack.config.database_url), migrate=False)

    def filled(count: int) -> bool:
        return len(ledger.fills(ACCOUNT)) >= count

    groups = {
        name: process.pid
        for name, process in stack.processes.items()
        if name in stack.topology.functions and process.pid is not None
    }
    open_account(stack)
    with PeakSampler(groups) as memory:
        post_signal(webhook, -1)  # warm every server up (first imports, first clients)
        wait_until(lambda: filled(1), "the warm-up signal's fill")
        latencies = []
        for number in range(signals):
            accepted, signal_id = post_signal(webhook, number), f"emu-{number}"
            wait_until(partial(acked, journal, signal_id), f"{signal_id}'s acknowledgement")
            latencies.append((read_acks(journal)[signal_id] - accepted) * 1000)
            wait_until(partial(filled, number + 2), f"{signal_id}'s fill")
        numbers = range(signals, signals + burst)
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda n: post_signal(webhook, n), numbers))
        wait_until(lambda: filled(signals + burst + 1), "the burst's fills")
        run_schedules_once(stack)
    ledger.database.engine.dispose()
    return latencies, memory


def run_schedules_once(stack: Stack) -> None:
    """Each schedule's function called once, as Cloud Scheduler calls it (their memory
    is measured at work, not idle)."""
    now = datetime.now(UTC)
    for name, schedule in sorted(stack.topology.schedules.items()):
        url = stack.endpoints.functions[schedule.function]
        status = http_job(url)(headers_for(name, now), b"").status
        if status >= 500:
            raise SystemExit(f"schedule {name} answered {status} (see the stack's logs)")


@contextmanager
def system_of_record(choice: str, directory: Path) -> Iterator[tuple[str, str]]:
    """(database URL, what it is): a scratch PostgreSQL database, else a SQLite file."""
    if choice == "postgres":
        from bench.manager_api import scratch_postgres

        with scratch_postgres() as url:
            if url is not None:
                yield url, "PostgreSQL"
                return
    yield f"sqlite:///{directory}/emulators.db", "SQLite file"


def stack_config(database_url: str, directory: Path, journal: Path) -> StackConfig:
    return StackConfig(
        project=f"bench-{os.getpid()}",
        database_url=database_url,
        logs=directory / "logs",
        sources={"execute_order": HERE / "timed_main.py"},
        scheduler=False,  # no sweep or snapshot in the middle of a measure
        watcher=False,
        env={
            "STRATUS_SECRET_WEBHOOK_SECRETS": json.dumps({SOURCE: SECRET}),
            "STRATUS_WEBHOOK_RATE_LIMIT": "0",  # the burst is over the default 120/min
            "BENCH_ACKS_FILE": str(journal),
        },
    )


def embedded(signals: int) -> list[float]:
    """bench.pipeline's accepted -> acknowledged, same signal count, this run."""
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(database_url=f"sqlite:///{directory}/bench.db")
        _, latencies, services = run_pipeline(signals, settings)
        database = getattr(services.ledger, "database", None)
        if database is not None:
            database.engine.dispose()
    return latencies


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=50, help="timed one at a time")
    parser.add_argument("--burst", type=int, default=50, help="posted at once, for memory")
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    args = parser.parse_args(argv)
    if shutil.which("gcloud") is None:
        raise SystemExit(f"the emulator stack needs gcloud: {INSTALL_HINT}")
    configure_logging(json_logs=False, level=logging.CRITICAL)
    base = embedded(args.signals)
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory() as temporary,
        system_of_record(args.database, Path(temporary)) as (url, database),
    ):
        directory = Path(temporary)
        journal = directory / "acks"
        with Stack(stack_config(url, directory, journal)) as stack:
            latencies, memory = measure_stack(stack, journal, args.signals, args.burst)
    elapsed = time.perf_counter() - started
    e50, e99 = percentile(base, 0.5), percentile(base, 0.99)
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    print(
        f"Accepted -> acknowledged, emulator stack (Pub/Sub push, Firestore emulator, "
        f"{database}) vs embedded, {args.signals} signals each; Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs; stack run {elapsed:.0f} s\n"
    )
    print("| measure | embedded | emulator stack | emulator / embedded |\n|---|---:|---:|---:|")
    print(f"| p50 | {e50:.1f} ms | {p50:.1f} ms | {p50 / e50:.1f}x |")
    print(f"| p99 | {e99:.1f} ms | {p99:.1f} ms | {p99 / e99:.1f}x |")
    print(
        f"\nMemory per function instance (its process group, bench/rss.py) over "
        f"{args.signals} signals, a burst of {args.burst} and one call of each schedule:\n"
    )
    print("| function | processes | peak Pss (sampled) | sum of VmHWM |\n|---|---:|---:|---:|")
    for name in sorted(memory.last):
        last = memory.last[name]
        peak = memory.peak_pss_kib[name]
        print(f"| {name} | {last.processes} | {mib(peak)} | {mib(last.hwm_kib)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
