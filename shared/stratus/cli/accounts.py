"""`stratus accounts`: list accounts, or add one with its exchange credentials.

The key and secret are read from STRATUS_ACCOUNT_API_KEY and STRATUS_ACCOUNT_SECRET, or
prompted for without echo; they are stored encrypted and never printed.
"""

from __future__ import annotations

import argparse
import getpass
import os
from typing import Any

from stratus.adapters.sql.accounts import SqlAccounts
from stratus.adapters.sql.audit import Page
from stratus.service.bootstrap import build


def register(commands: Any) -> None:
    command = commands.add_parser(
        "accounts",
        help="list or add exchange accounts",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = command.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="accounts and their key versions").set_defaults(run=run_list)
    add = actions.add_parser("add", help="add an account (credentials from env or prompt)")
    add.add_argument("account")
    add.add_argument("--exchange", required=True, help='ccxt exchange id, or "paper"')
    add.add_argument("--currency", default="USDT")
    add.add_argument("--label", default="")
    add.add_argument("--sandbox", action="store_true", help="the exchange's testnet")
    add.add_argument("--demo", action="store_true", help="the exchange's demo trading")
    add.set_defaults(run=run_add)


def _accounts() -> SqlAccounts:
    accounts = build().accounts
    if not isinstance(accounts, SqlAccounts):
        raise SystemExit("run this where the database is reachable (unset STRATUS_MANAGER_URL)")
    return accounts


def run_list(args: argparse.Namespace) -> int:
    found, total = _accounts().find(Page(limit=1000))
    for account in found:
        flags = (" sandbox" if account.sandbox else "") + (" demo" if account.demo else "")
        flags += "" if account.enabled else " disabled"
        print(f"{account.account:<24} {account.exchange_id:<10} {account.key_version}{flags}")
    print(f"{total} account(s)")
    return 0


def run_add(args: argparse.Namespace) -> int:
    api_key = os.environ.get("STRATUS_ACCOUNT_API_KEY") or getpass.getpass("API key: ")
    secret = os.environ.get("STRATUS_ACCOUNT_SECRET") or getpass.getpass("API secret: ")
    created = _accounts().create(
        args.account,
        api_key,
        secret,
        actor="cli:accounts-add",
        exchange_id=args.exchange,
        label=args.label,
        currency=args.currency,
        sandbox=args.sandbox,
        demo=args.demo,
    )
    print(f"added {created.account} ({created.exchange_id}, key {created.key_version})")
    return 0
