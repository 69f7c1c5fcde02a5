"""`stratus kill-switch`: show or throw the kill switch (global, account or strategy).

It writes the state store the functions read (Firestore in production, the embedded
SQL database locally); check_risk and execute_order obey the most restrictive scope.
Each change is published on `trading-state`, so notify tells people (with
STRATUS_BUS=pubsub; the embedded bus lives inside `stratus up` only).
"""

from __future__ import annotations

import argparse
from typing import Any

from stratus.adapters.clock import SystemClock
from stratus.adapters.sql.db import Database
from stratus.config import Settings
from stratus.contracts import codec
from stratus.domain.risk import TradingState, TradingStateChange
from stratus.observability import TRACE_ATTRIBUTE, new_trace_id
from stratus.ports import EventBus, StateStore


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


def bus_of(settings: Settings) -> EventBus | None:
    """Pub/Sub, where notify hears it; None for the embedded bus (no other process
    shares it)."""
    if settings.bus != "pubsub":
        return None
    from stratus.adapters.pubsub_bus import PubSubBus

    return PubSubBus(settings.gcp_project)


def run(
    args: argparse.Namespace, store: StateStore | None = None, bus: EventBus | None = None
) -> int:
    settings = Settings()
    store = store or state_store(settings)
    bus = bus or bus_of(settings)
    if args.account:
        scope = f"account:{args.account}"
    elif args.strategy:
        scope = f"strategy:{args.strategy}"
    else:
        scope = "global"
    if args.state:
        state = TradingState(args.state)
        store.set_trading_state(scope, state, args.reason)
        if bus is not None:
            change = TradingStateChange(
                scope=scope, state=state, reason=args.reason, changed_at=SystemClock().now()
            )
            data = codec.encode("trading-state", change)
            bus.publish("trading-state", data, {TRACE_ATTRIBUTE: new_trace_id()})
    current = store.trading_state([scope]).get(scope, TradingState.ACTIVE)
    print(f"{scope}: {current.value}")
    return 0
