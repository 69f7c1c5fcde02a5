"""End-to-end throughput and latency of the trading pipeline on the embedded default.

    .venv/bin/python -m bench.pipeline [--signals 400] [--backend sqlite|postgres|firestore]

Each signal is posted to the webhook handler (signed), then the in-process bus delivers
it through on_signal, check_risk, execute_order and update_position on a SQLite file and
the paper exchange (its venue in the same file), as `stratus up` wires them. Measured:

- signals/s end to end (webhook to position);
- p50/p99 from "signal accepted" (the webhook's 202) to "order acknowledged" (the paper
  exchange returned from create);
- in the same run, three baselines: the bare codec (encode + decode of one Signal), the
  bus + dispatch carrying one message to a no-op handler, and one small write
  transaction on the same SQLite file, so the table reads as ratios that survive a
  change of machine (and shows the embedded default is bound by SQLite commits);
- durable writes and round trips per signal, counted (bench/io_counts.py) per function
  and per backend: `sqlite` (the embedded default), `postgres` (everything on a scratch
  PostgreSQL database, STRATUS_TEST_POSTGRES_URL) or `firestore` (execution state and
  paper venues on the Firestore emulator, as the functions run in production, the system
  of record on SQLite; FIRESTORE_EMULATOR_HOST, or one is started through gcloud).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from bench.io_counts import IoCounts, charge_deliveries, charged
from stratus.adapters.clock import ManualClock
from stratus.adapters.firestore_client import firestore_client
from stratus.adapters.local_bus import LocalBus
from stratus.adapters.paper.feed import PriceFeed
from stratus.adapters.sql.accounts import SqlAccounts
from stratus.config import Settings
from stratus.contracts import codec
from stratus.domain.orders import ExchangeOrder, OrderRequest
from stratus.domain.signals import Signal
from stratus.observability import configure_logging
from stratus.ports import Exchanges, Venue
from stratus.service import dispatch
from stratus.service.bootstrap import build
from stratus.service.handlers import ingest
from stratus.service.services import Services

SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT")
QUANTITIES = {"BTC/USDT:USDT": "0.01", "ETH/USDT:USDT": "0.2", "SOL/USDT:USDT": "3"}


class TimedVenues:
    """Paper venues that note when the exchange acknowledged each signal's order, by
    `clock`, in `acked`; with a `journal`, also as "<signal_id> <time>" lines appended to
    that file (bench.emulator_latency reads them from outside the function's process)."""

    def __init__(
        self,
        inner: Exchanges,
        clock: Callable[[], float] = time.perf_counter,
        journal: Path | None = None,
    ) -> None:
        self.inner = inner
        self.clock = clock
        self.journal = journal
        self.acked: dict[str, float] = {}

    def for_account(self, account: str) -> Venue:
        return _TimedVenue(self.inner.for_account(account), self)

    def accounts(self) -> list[str]:
        return list(self.inner.accounts())

    def note(self, signal_id: str) -> None:
        if signal_id in self.acked:
            return
        at = self.acked[signal_id] = self.clock()
        if self.journal is not None:
            with self.journal.open("a") as journal:  # one short line: one append
                journal.write(f"{signal_id} {at!r}\n")


class _TimedVenue:
    def __init__(self, inner: Any, venues: TimedVenues) -> None:
        self._inner = inner
        self._venues = venues

    def place(self, request: OrderRequest) -> ExchangeOrder:
        order: ExchangeOrder = self._inner.place(request)
        self._venues.note(request.signal_id)
        return order

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _signal(number: int, clock: ManualClock) -> dict[str, Any]:
    symbol = SYMBOLS[number % len(SYMBOLS)]
    return {
        "signal_id": f"bench-{number}",
        "account": "bench",
        "strategy": f"s{number % 4}",
        "symbol": symbol,
        "action": "buy" if (number // len(SYMBOLS)) % 2 == 0 else "sell",
        "quantity": QUANTITIES[symbol],
        "confidence": 1.0,
        "created_at": clock.now().isoformat(),
    }


def run_pipeline(
    count: int, settings: Settings, io: IoCounts | None = None
) -> tuple[float, list[float], Services]:
    clock = ManualClock(PriceFeed.default().start)
    services = build(settings, clock=clock)
    # The bootstrap's own paper venues (kept in the same SQLite file), timed.
    venues = TimedVenues(services.exchanges)
    services.exchanges = venues
    bus = services.bus
    assert isinstance(bus, LocalBus)
    assert isinstance(services.accounts, SqlAccounts)
    services.accounts.create(
        "bench", "paper", "paper", exchange_id="paper", label="", currency="USDT",
        sandbox=False, demo=False,
    )  # fmt: skip
    secret = json.loads(services.secrets.get(ingest.WEBHOOK_SECRETS))["demo"]
    if io is not None:
        watch_io(io, services)
    accepted: dict[str, float] = {}
    started = time.perf_counter()
    for number in range(count):
        clock.advance(timedelta(seconds=5))
        body = json.dumps(_signal(number, clock)).encode()
        stamp = str(int(clock.now().timestamp()))
        headers = {
            ingest.SOURCE_HEADER: "demo",
            ingest.TIMESTAMP_HEADER: stamp,
            ingest.SIGNATURE_HEADER: ingest.sign(secret, stamp, body),
        }
        with charged("ingest_signal"):
            result = ingest.ingest_signal(services, headers, body)
        if result.status != 202:
            raise SystemExit(f"signal {number} refused: {result.body}")
        accepted[f"bench-{number}"] = time.perf_counter()
        bus.drain()
    elapsed = time.perf_counter() - started
    latencies = [
        (venues.acked[signal_id] - at) * 1000
        for signal_id, at in accepted.items()
        if signal_id in venues.acked
    ]
    return elapsed, latencies, services


def watch_io(io: IoCounts, services: Services) -> None:
    """Count the durable writes and round trips of everything `services` opened."""
    assert isinstance(services.bus, LocalBus)
    charge_deliveries(services.bus)
    database = getattr(services.ledger, "database", None)
    if database is not None:
        io.sql(database.engine, database.engine.dialect.name)
    if services.settings.state == "firestore":
        io.firestore(firestore_client(services.settings.gcp_project))


@contextmanager
def backend_settings(backend: str, directory: Path) -> Iterator[Settings]:
    sqlite = f"sqlite:///{directory}/bench.db"
    if backend == "sqlite":
        yield Settings(database_url=sqlite)
    elif backend == "postgres":
        from bench.manager_api import scratch_postgres

        with scratch_postgres() as url:
            if url is None:
                raise SystemExit("PostgreSQL is unavailable")
            yield Settings(database_url=url)
    else:
        with firestore_emulator(directory) as project:
            yield Settings(database_url=sqlite, state="firestore", gcp_project=project)


@contextmanager
def firestore_emulator(directory: Path) -> Iterator[str]:
    """A project id on a Firestore emulator: FIRESTORE_EMULATOR_HOST's, else one started
    here (and stopped after)."""
    project = f"bench-{os.getpid()}"
    if os.environ.get("FIRESTORE_EMULATOR_HOST"):
        yield project
        return
    from stratus.local import emulators
    from stratus.local.processes import free_port

    port = free_port()
    process = emulators.firestore(port, directory)
    os.environ["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{port}"
    try:
        yield project
    finally:
        del os.environ["FIRESTORE_EMULATOR_HOST"]
        process.stop()


def per_call(work: Callable[[], object], repeat: int) -> float:
    """Seconds per call of `work`, best of three runs of `repeat` calls."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(repeat):
            work()
        best = min(best, (time.perf_counter() - started) / repeat)
    return best


def codec_baseline(clock: ManualClock) -> float:
    signal = codec.parse(Signal, {**_signal(0, clock), "source": "demo"})
    return per_call(lambda: codec.decode("signals", codec.encode("signals", signal)), 2000)


def noop_dispatch_baseline(services: Services, clock: ManualClock) -> float:
    """The bus and dispatch (decode, age check, trace) with the handler doing nothing."""
    bus = LocalBus(services.bus.topology, clock)  # type: ignore[attr-defined]
    bus.attach(partial(dispatch.deliver, services))
    signal = codec.parse(Signal, {**_signal(0, clock), "source": "demo"})
    data = codec.encode("signals", signal)
    saved = dispatch.HANDLERS["on_signal"]
    dispatch.HANDLERS["on_signal"] = lambda _services, _message: None

    def publish_and_drain() -> None:
        bus.publish("signals", data, {})
        bus.drain()

    try:
        return per_call(publish_and_drain, 2000)
    finally:
        dispatch.HANDLERS["on_signal"] = saved


def state_write_baseline(services: Services) -> float:
    """One small write transaction on the same state store (an idempotency key)."""
    keys = iter(range(10**9))
    return per_call(lambda: services.state.mark_done(f"bench-write-{next(keys)}"), 200)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=400)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "firestore"], default="sqlite")
    args = parser.parse_args(argv)
    configure_logging(json_logs=False, level=logging.CRITICAL)
    io = IoCounts()
    with (
        tempfile.TemporaryDirectory() as directory,
        backend_settings(args.backend, Path(directory)) as settings,
    ):
        elapsed, latencies, services = run_pipeline(args.signals, settings, io)
        counted = io.snapshot()  # the baselines below write too
        clock = services.clock
        assert isinstance(clock, ManualClock)
        orders = len(services.state.orders())
        codec_s = codec_baseline(clock)
        noop_s = noop_dispatch_baseline(services, clock)
        write_s = state_write_baseline(services)
        engine = getattr(services.ledger, "database", None)
        if engine is not None:
            engine.engine.dispose()
    per_signal = elapsed / args.signals
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    rows = [
        ("signals end to end (webhook to position)", f"{args.signals}", ""),
        ("exchange orders acknowledged", f"{orders}", ""),
        ("throughput", f"{args.signals / elapsed:,.0f} signals/s", ""),
        ("time per signal, end to end", f"{per_signal * 1000:.2f} ms", ""),
        ("accepted -> acknowledged p50", f"{p50:.2f} ms", ""),
        ("accepted -> acknowledged p99", f"{p99:.2f} ms", ""),
        ("baseline: codec encode + decode of one Signal", f"{codec_s * 1e6:.1f} µs", "1x"),
        (
            "baseline: bus + dispatch, no-op handler, one message",
            f"{noop_s * 1e6:.1f} µs",
            f"{noop_s / codec_s:.1f}x codec",
        ),
        (
            f"baseline: one state write transaction ({args.backend})",
            f"{write_s * 1e6:.0f} µs",
            f"{write_s / codec_s:.0f}x codec",
        ),
        ("end to end per signal vs codec", "", f"{per_signal / codec_s:,.0f}x codec"),
        ("end to end per signal vs one state write", "", f"{per_signal / write_s:.1f}x write"),
        ("end to end per signal vs no-op dispatch", "", f"{per_signal / noop_s:,.0f}x no-op"),
        ("p50 accepted -> acknowledged vs no-op dispatch", "", f"{p50 / 1000 / noop_s:,.0f}x"),
    ]
    print(
        f"Pipeline on {args.backend} (in-process bus, paper exchange); "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs\n"
    )
    print("| measure | value | ratio |\n|---|---:|---:|")
    for name, value, ratio in rows:
        print(f"| {name} | {value} | {ratio} |")
    print(io_table(counted, args.signals))
    return 0


def io_table(io: IoCounts, signals: int) -> str:
    lines = [
        "",
        "Per signal, counted (a write: a committed transaction, batch or Firestore commit "
        "that changed something; a round trip: a statement, commit or RPC):",
        "",
        "| function | backend | durable writes | round trips |",
        "|---|---|---:|---:|",
    ]
    for function, backend, writes, trips in io.per(signals):
        lines.append(f"| {function} | {backend} | {writes:.2f} | {trips:.2f} |")
    writes, trips = io.total("writes", ours=True), io.total("round trips", ours=True)
    writes, trips = writes / signals, trips / signals
    lines.append(f"| **all but the paper exchange** | | **{writes:.2f}** | **{trips:.2f}** |")
    met = "met" if writes <= 10 else "MISSED"
    lines += ["", f"Target: at most 10 durable writes per signal: {met} ({writes:.2f})"]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
