"""`stratus snapshot`, `stratus reconcile` and `stratus sweep`: the scheduled operations,
run once now.

They run the same handlers Cloud Scheduler calls, on whatever backends the settings
name (the embedded default, or STRATUS_EXCHANGE=ccxt with real or served exchanges).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from stratus.adapters.local_bus import LocalBus
from stratus.config import Settings
from stratus.observability import configure_logging
from stratus.scheduling import headers_for
from stratus.service.bootstrap import build
from stratus.service.handlers import operations


def register(commands: Any) -> None:
    for name, handler, summary in (
        ("snapshot", operations.snapshot, "snapshot positions and balances of every account"),
        (
            "reconcile",
            operations.reconcile,
            "compare every account with its exchange; adopt missed fills, fix drift",
        ),
        (
            "sweep",
            operations.sweep,
            "finish what crashes left undone; close orders whose message can no longer come",
        ),
    ):
        command = commands.add_parser(name, help=summary, description=__doc__)
        command.add_argument(
            "--at",
            help="schedule time (ISO-8601 with timezone); default now. Reruns with the "
            "same time are idempotent.",
        )
        command.set_defaults(run=_runner(name, handler))


def _runner(name: str, handler: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        settings = Settings()
        configure_logging(settings.json_logs, settings.gcp_project, settings.log_level)
        services = build(settings)
        at = datetime.fromisoformat(args.at) if args.at else datetime.now(UTC)
        result = handler(services, headers_for(f"cli-{name}", at), b"")
        if isinstance(services.bus, LocalBus):
            services.bus.drain()  # apply adopted fills and corrections before exiting
        print(json.dumps(result.body, indent=2, default=str))
        return 0 if result.status < 400 else 1

    return run
