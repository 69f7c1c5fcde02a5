"""`stratus status`, `positions`, `orders`, `fills`, `signals`, `pnl`: the trading picture
from a manager (the local stack's, or production's with --manager), in tables that fit an
80-column terminal, or as JSON (--json) for scripts."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from stratus.cli import remote
from stratus.cli.remote import Remote
from stratus.cli.tables import amount, money, table

WORKING = ("pending", "open", "partially_filled")
WIDTH = 80

View = Callable[[Remote, argparse.Namespace], dict[str, Any]]


def register(commands: Any) -> None:
    for name, gather, show, helped in (
        ("status", status, show_status, "the whole picture: state, equity, PnL, positions, orders"),
        ("positions", positions, show_positions, "open positions, marked"),
        ("orders", orders, show_orders, "orders, working first (--all: every recent one)"),
        ("fills", fills, show_fills, "the latest fills"),
        ("signals", signals, show_signals, "the latest signals and their fate"),
        ("pnl", pnl, show_pnl, "realized, unrealized, fees, net"),
    ):
        command = commands.add_parser(name, help=helped, description=__doc__)
        remote.add_arguments(command)
        command.add_argument("--account", help="only this account")
        if name == "orders":
            command.add_argument("--all", action="store_true", help="every order, not only working")
        command.set_defaults(run=_runner(gather, show))


def _runner(gather: View, show: Callable[[dict[str, Any]], str]) -> Callable[..., int]:
    def run(args: argparse.Namespace, client: Remote | None = None) -> int:
        data = gather(client or Remote.of(args), args)
        print(json.dumps(data, indent=2) if args.json else show(data))
        return 0

    return run


# --- gathering: one call per piece, nothing computed that the manager does not say --------


def status(client: Remote, args: argparse.Namespace) -> dict[str, Any]:
    account = args.account
    reports = client.get("/reconciliation/reports", limit=1, account=account)["items"]
    return {
        "manager": client.url,
        "me": client.get("/me"),
        "trading_state": client.get("/trading-state"),
        "balances": client.items("/balances", account=account),
        "pnl": client.get("/portfolio/summary", account=account),
        "positions": positions(client, args)["positions"],
        "working_orders": _working(client, account),
        "last_reconcile": reports[0] if reports else None,
        "dead_letters": client.get("/dead-letters/counts"),
    }


def positions(client: Remote, args: argparse.Namespace) -> dict[str, Any]:
    return {"positions": client.items("/positions", status="open", account=args.account)}


def orders(client: Remote, args: argparse.Namespace) -> dict[str, Any]:
    if getattr(args, "all", False):
        return {"orders": client.get("/orders", limit=50, account=args.account)["items"]}
    return {"orders": _working(client, args.account)}


def fills(client: Remote, args: argparse.Namespace) -> dict[str, Any]:
    return {"fills": client.get("/fills", limit=30, account=args.account)["items"]}


def signals(client: Remote, args: argparse.Namespace) -> dict[str, Any]:
    return {"signals": client.get("/signals", limit=30, account=args.account)["items"]}


def pnl(client: Remote, args: argparse.Namespace) -> dict[str, Any]:
    return {"pnl": client.get("/portfolio/pnl", account=args.account)}


def _working(client: Remote, account: str | None) -> list[Any]:
    return [o for s in WORKING for o in client.items("/orders", status=s, account=account)]


# --- showing ----------------------------------------------------------------------------


def show_status(data: dict[str, Any]) -> str:
    me, summary = data["me"], data["pnl"]
    states = data["trading_state"]
    unusual = {scope: s for scope, s in states.items() if s != "active"}
    state = ", ".join(f"{scope} {s}" for scope, s in unusual.items()) or "active everywhere"
    equity = ", ".join(
        f"{b['account']} {money(D(b['total']))} {b['asset']}" for b in data["balances"]
    )
    report = data["last_reconcile"]
    reconciled = (
        f"{_when(report['run_at'])} {report['account']}: "
        f"{'clean' if _clean(report) else 'drift found'}"
        if report
        else "never"
    )
    dead = ", ".join(f"{d['topic']} {d['count']}" for d in data["dead_letters"]) or "none"
    lines = [
        f"Stratus at {data['manager']} as {me['name']} ({me['role']})",
        f"Trading    {state}",
        f"Equity     {equity or 'no balance yet'}",
        f"PnL        realized {money(D(summary['realized_pnl']))}  unrealized "
        f"{money(D(summary['unrealized_pnl']))}  fees {money(D(summary['fees']))}  net "
        f"{money(D(summary['net_pnl']))}",
        f"Reconciled {reconciled}",
        f"Dead       {dead}",
    ]
    return "\n".join(
        [_fit(line) for line in lines]
        + [show_positions(data), show_orders({"orders": data["working_orders"]}, "Working orders")]
    )


def show_positions(data: dict[str, Any]) -> str:
    rows = [
        (
            _cut(f"{p['account']}/{p['strategy']}", 22),
            _cut(p["symbol"], 14),
            amount(D(p["quantity"])),
            money(D(p["average_entry"])),
            money(D(p["mark_price"])) if p.get("mark_price") else "",
            _unrealized(p),
        )
        for p in data["positions"]
    ]
    headers = ("account/strategy", "symbol", "qty", "entry", "mark", "unrealized")
    return _table("Open positions", headers, rows)


def show_orders(data: dict[str, Any], title: str = "Orders") -> str:
    rows = [
        (
            _cut(o["client_order_id"], 11),
            _cut(f"{o['account']}/{o['strategy']}", 16),
            _cut(o["symbol"], 14),
            o["side"],
            amount(D(o["quantity"])),
            money(D(o["limit_price"])) if o.get("limit_price") else "market",
            _cut(o["status"], 8),
        )
        for o in data["orders"]
    ]
    headers = ("order", "account/strat", "symbol", "side", "qty", "price", "status")
    return _table(title, headers, rows)


def show_fills(data: dict[str, Any]) -> str:
    rows = [
        (
            _when(f["executed_at"]),
            _cut(f"{f['account']}/{f['strategy']}", 18),
            _cut(f["symbol"], 14),
            f["side"],
            amount(D(f["quantity"])),
            money(D(f["price"])),
            money(D(f["fee"]), 4),
        )
        for f in data["fills"]
    ]
    headers = ("at", "account/strat", "symbol", "side", "qty", "price", "fee")
    return _table("Fills", headers, rows)


def show_signals(data: dict[str, Any]) -> str:
    rows = [
        (
            _when(s["received_at"]),
            _cut(s["signal_id"], 18),
            _cut(f"{s.get('account') or '?'}/{s.get('strategy') or '?'}", 16),
            s.get("action") or "",
            s["status"],
            _cut(s.get("reason") or "", 16),
        )
        for s in data["signals"]
    ]
    headers = ("received", "signal", "account/strategy", "action", "fate", "reason")
    return _table("Signals", headers, rows)


def show_pnl(data: dict[str, Any]) -> str:
    p = data["pnl"]
    rows = [(name, money(D(p[key]))) for name, key in _PNL]
    return _table("PnL", ("", "quote currency"), rows)


_PNL = (
    ("realized", "realized"),
    ("fees", "fees"),
    ("realized net", "realized_net"),
    ("unrealized", "unrealized"),
)


def _table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    return "\n".join(_fit(line) for line in table(title, headers, rows).splitlines())


def _fit(line: str) -> str:
    return line if len(line) <= WIDTH else line[: WIDTH - 1] + "…"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _when(stamp: str) -> str:
    return stamp[5:16].replace("T", " ")  # MM-DD HH:MM, UTC as the manager says


def _unrealized(p: dict[str, Any]) -> str:
    return "" if p.get("unrealized_pnl") is None else money(D(p["unrealized_pnl"]))


def _clean(report: dict[str, Any]) -> bool:
    return not (report["lost_orders"] or report["unknown_orders"] or report["drifts"])


def D(value: Any) -> Decimal:
    return Decimal(str(value))
