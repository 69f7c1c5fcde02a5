"""`stratus kill-switch`: show or throw the kill switch (global, account or strategy).

It writes the state store the functions read (Firestore in production, the embedded
SQL database locally); check_risk and execute_order obey the most restrictive scope.
"""

from __future__ import annotations

import argparse
from typing import Any

from stratus.adapters.clock import SystemClock
from stratus.adapters.sql.db import Database
from stratus.config import Settings
from stratus.domain.risk import TradingState
from stratus.ports import StateStore


def register(commands: Any) -> None:
    command = commands.add_parser(
        "kill-switch", help="show or set trading state: active, reducing, halted",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    command.add_argument(
        "state", nargs="?", choices=[s.value for s in TradingState], help="omit to show"
    )
    scope = command.add_mutually_exclusive_group()
    scope.add_argument("--account", help="only this account")
    scope.add_argument("--strategy", help="only this strategy")
    command.add_argument("--reason", default="set from the command line")
    command.set_defaults(run=run)


def state_store(settings: Settings) -> StateStore:
    if settings.state == "firestore":
        from stratus.adapters.firestore_state import FirestoreStateStore

        return FirestoreStateStore(settings.gcp_project, SystemClock())
    from stratus.adapters.sql.state import SqlStateStore

    return SqlStateStore(Database.configured(settings), SystemClock())


def run(args: argparse.Namespace, store: StateStore | None = None) -> int:
    store = store or state_store(Settings())
    if args.account:
        scope = f"account:{args.account}"
    elif args.strategy:
        scope = f"strategy:{args.strategy}"
    else:
        scope = "global"
    if args.state:
        store.set_trading_state(scope, TradingState(args.state), args.reason)
    current = store.trading_state([scope]).get(scope, TradingState.ACTIVE)
    print(f"{scope}: {current.value}")
    return 0
