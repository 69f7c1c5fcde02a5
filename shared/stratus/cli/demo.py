"""`stratus demo`: replay example signals through the real handlers on the embedded stack.

Each example line is `{"at": <ISO time>, "signal": {...}}`. The demo opens the paper
account acct-demo (signals for any other account are refused), moves a manual clock
along the shipped price feed, plays Cloud Scheduler (reconcile before every signal, a
snapshot at the end), posts each signal to the webhook handler signed like any client
would, and lets the in-process bus deliver through the same entry the Cloud Functions use.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from stratus.adapters.clock import ManualClock
from stratus.adapters.local_bus import LocalBus
from stratus.adapters.paper.feed import PriceFeed
from stratus.adapters.paper.venues import PaperVenues
from stratus.adapters.sql.accounts import SqlAccounts
from stratus.cli.report import render
from stratus.config import Settings
from stratus.domain.records import Conflict
from stratus.observability import configure_logging
from stratus.service.bootstrap import build
from stratus.service.handlers import ingest, operations
from stratus.service.services import Services

DEFAULT_SIGNALS = Path("examples/signals.jsonl")


@dataclass
class Outcome:
    at: datetime
    signal: dict[str, Any]
    status: int
    answer: dict[str, Any]


def register(commands: Any) -> None:
    command = commands.add_parser(
        "demo",
        help="replay example signals end to end on the embedded stack and print the result",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument(
        "--signals", type=Path, default=DEFAULT_SIGNALS, help="JSON-lines file of signals"
    )
    command.add_argument(
        "--database",
        default="sqlite://",
        help="SQLAlchemy URL for the ledger and state (default: in memory)",
    )
    command.add_argument(
        "--duplicates",
        type=float,
        default=0.0,
        metavar="RATE",
        help="deliver this fraction of messages twice, to watch idempotency (0..1)",
    )
    command.add_argument("--verbose", action="store_true", help="show the handlers' logs")
    command.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    configure_logging(json_logs=False, level=logging.INFO if args.verbose else logging.CRITICAL)
    if not args.signals.is_file():
        print(f"stratus demo: no signals file at {args.signals} (run from the repository root)")
        return 2
    started = time.perf_counter()
    services, bus = embedded(args.database, args.duplicates)
    outcomes = replay(services, bus, load(args.signals))
    print(render(services, bus, outcomes))
    print(f"\n{len(outcomes)} signals replayed in {time.perf_counter() - started:.2f} s")
    return 0


DEMO_ACCOUNT = "acct-demo"


def embedded(database_url: str, duplicate_rate: float = 0.0) -> tuple[Services, LocalBus]:
    """The embedded stack on the shipped feed, its clock at the feed's first tick, with
    the paper account DEMO_ACCOUNT."""
    feed = PriceFeed.default()
    clock = ManualClock(feed.start)
    services = build(
        Settings(database_url=database_url), clock=clock, exchanges=PaperVenues(clock, feed)
    )
    accounts = services.accounts
    assert isinstance(accounts, SqlAccounts)  # the embedded system of record
    with suppress(Conflict):  # a --database kept from an earlier run has it
        accounts.create(
            DEMO_ACCOUNT, "paper", "paper", actor="cli:demo", exchange_id="paper",
            label="demo", currency="USDT", sandbox=False, demo=False,
        )  # fmt: skip
    bus = services.bus
    assert isinstance(bus, LocalBus)
    bus.duplicate_rate = duplicate_rate
    return services, bus


def load(path: Path) -> list[tuple[datetime, dict[str, Any]]]:
    lines = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        entry = json.loads(line)
        try:
            lines.append((datetime.fromisoformat(entry["at"]), entry["signal"]))
        except (KeyError, ValueError) as error:
            raise SystemExit(
                f"{path}:{number}: each line needs 'at' and 'signal' ({error})"
            ) from error
    return sorted(lines, key=lambda item: item[0])


def replay(
    services: Services, bus: LocalBus, signals: list[tuple[datetime, dict[str, Any]]]
) -> list[Outcome]:
    clock = services.clock
    assert isinstance(clock, ManualClock)
    secret = json.loads(services.secrets.get(ingest.WEBHOOK_SECRETS))["demo"]
    outcomes = []
    for at, signal in signals:
        clock.set(at)
        operations.follow_open_orders(services)  # what Cloud Scheduler's reconcile does
        bus.drain()
        body = json.dumps(signal).encode()
        stamp = str(int(at.timestamp()))
        headers = ingest.signed_headers("demo", secret, stamp, body)
        result = ingest.ingest_signal(services, headers, body)
        bus.drain()
        outcomes.append(Outcome(at, signal, result.status, result.body))
    if signals:
        clock.set(signals[-1][0] + timedelta(minutes=30))
    operations.follow_open_orders(services)
    bus.drain()
    operations.snapshot(services, {}, b"")
    return outcomes
