"""`stratus cancel`, `close`, `flatten`, `sync`: taking control through a manager (the
local stack's, or production's with --manager), like the console's buttons
(docs/control.md). Each prints what the manager answered; flatten repeats until done."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from stratus.cli import remote
from stratus.cli.remote import Remote

FLATTEN_ROUNDS = 30  # flatten asks again until done: at most this many times, a second apart


def register(commands: Any) -> None:
    cancel = _command(commands, "cancel", "cancel a working order", run_cancel)
    cancel.add_argument("client_order_id")
    close = _command(
        commands, "close", "close a strategy's position (all, or --quantity)", run_close
    )
    close.add_argument("account")
    close.add_argument("strategy")
    close.add_argument("symbol")
    close.add_argument("--quantity", help="at most this much (default: the whole position)")
    flatten = _command(
        commands, "flatten", "kill switch to reducing, cancel, close all", run_flatten
    )
    flatten.add_argument("--account", help="only this account (default: every account)")
    flatten.add_argument("--no-wait", action="store_true", help="ask once, do not wait for done")
    sync = _command(commands, "sync", "reconcile now with the exchange", run_sync)
    sync.add_argument("--account", help="only this account (default: every account)")


def _command(
    commands: Any, name: str, helped: str, run: Callable[..., int]
) -> argparse.ArgumentParser:
    command: argparse.ArgumentParser = commands.add_parser(name, help=helped, description=__doc__)
    remote.add_arguments(command)
    command.set_defaults(run=run)
    return command


def run_cancel(args: argparse.Namespace, client: Remote | None = None) -> int:
    answer = (client or Remote.of(args)).call("DELETE", f"/orders/{args.client_order_id}")
    _say(
        args, answer, f"cancel of {answer['client_order_id']} requested (it was {answer['status']})"
    )
    return 0


def run_close(args: argparse.Namespace, client: Remote | None = None) -> int:
    body = {"account": args.account, "strategy": args.strategy, "symbol": args.symbol}
    if args.quantity:
        body["quantity"] = args.quantity
    answer = (client or Remote.of(args)).call("POST", "/positions/close", json=body)
    _say(args, answer, f"close requested: signal {answer['signal_id']}")
    return 0


def run_flatten(
    args: argparse.Namespace,
    client: Remote | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    client = client or Remote.of(args)
    body = {"account": args.account} if args.account else {}
    for _ in range(1 if args.no_wait else FLATTEN_ROUNDS):
        progress = client.call("POST", "/flatten", json=body)
        _say(args, progress, _progress(progress))
        if progress["done"]:
            return 0
        sleep(1.0)
    return 0 if args.no_wait else 1  # not flat yet: say so by the exit status


def run_sync(args: argparse.Namespace, client: Remote | None = None) -> int:
    body = {"account": args.account} if args.account else {}
    answer = (client or Remote.of(args)).call("POST", "/sync", json=body)
    _say(args, answer, f"reconcile requested for {answer.get('account') or 'every account'}")
    return 0


def _progress(p: dict[str, Any]) -> str:
    if p["done"]:
        return f"{p['scope']}: flat ({p['trading_state']})"
    return (
        f"{p['scope']} {p['trading_state']}: canceling {len(p['canceling'])}, closing "
        f"{len(p['closing'])}, waiting {len(p['waiting'])}"
    )


def _say(args: argparse.Namespace, answer: Any, text: str) -> None:
    print(json.dumps(answer) if args.json else text)
