"""`stratus accounts`: list accounts, add one with its exchange credentials, or replace
an account's credentials.

The key and secret are read from STRATUS_ACCOUNT_API_KEY and STRATUS_ACCOUNT_SECRET, or
prompted for without echo; they are stored encrypted and never printed (the list shows
the key's last characters, to tell which key is stored). The input is checked as the
API checks it: exchange ids are "paper" and the exchanges Stratus trades on.
"""

from __future__ import annotations

import argparse
import getpass
import os
from typing import Any

from stratus.adapters.sql.accounts import SqlAccounts
from stratus.adapters.sql.audit import Page
from stratus.manager.schemas import EXCHANGES, AccountIn, AccountPatch
from stratus.service.bootstrap import build


def register(commands: Any) -> None:
    command = commands.add_parser(
        "accounts",
        help="list or add exchange accounts, replace their keys",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = command.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="accounts, key fingerprints and versions").set_defaults(
        run=run_list
    )
    add = actions.add_parser("add", help="add an account (credentials from env or prompt)")
    add.add_argument("account")
    add.add_argument("--exchange", required=True, help=f"one of {', '.join(EXCHANGES)}")
    add.add_argument("--currency", default="USDT")
    add.add_argument("--label", default="")
    add.add_argument("--sandbox", action="store_true", help="the exchange's testnet")
    add.add_argument("--demo", action="store_true", help="the exchange's demo trading")
    add.set_defaults(run=run_add)
    set_keys = actions.add_parser(
        "set-keys", help="replace an account's key and secret (from env or prompt)"
    )
    set_keys.add_argument("account")
    set_keys.set_defaults(run=run_set_keys)


def _accounts() -> SqlAccounts:
    accounts = build().accounts
    if not isinstance(accounts, SqlAccounts):
        raise SystemExit("run this where the database is reachable (unset STRATUS_MANAGER_URL)")
    return accounts


def _credentials() -> dict[str, str]:
    return {
        "api_key": os.environ.get("STRATUS_ACCOUNT_API_KEY") or getpass.getpass("API key: "),
        "secret": os.environ.get("STRATUS_ACCOUNT_SECRET") or getpass.getpass("API secret: "),
    }


def run_list(args: argparse.Namespace) -> int:
    found, total = _accounts().find(Page(limit=1000))
    for account in found:
        flags = (" sandbox" if account.sandbox else "") + (" demo" if account.demo else "")
        flags += "" if account.enabled else " disabled"
        key = account.api_key_fingerprint or "?"
        print(
            f"{account.account:<24} {account.exchange_id:<10} {key:<8} {account.key_version}{flags}"
        )
    print(f"{total} account(s)")
    return 0


def run_add(args: argparse.Namespace) -> int:
    fields = {
        "account": args.account,
        "exchange_id": args.exchange,
        "label": args.label,
        "currency": args.currency,
        "sandbox": args.sandbox,
        "demo": args.demo,
    }
    AccountIn.model_validate(fields | {"api_key": "-", "secret": "-"})  # before prompting
    body = AccountIn.model_validate(fields | _credentials())
    created = _accounts().create(
        body.account,
        body.api_key.get_secret_value(),
        body.secret.get_secret_value(),
        actor="cli:accounts-add",
        **body.public(),
    )
    print(f"added {created.account} ({created.exchange_id}, key {created.api_key_fingerprint})")
    return 0


def run_set_keys(args: argparse.Namespace) -> int:
    accounts = _accounts()
    accounts.get(args.account)  # unknown: say so before prompting
    body = AccountPatch.model_validate(_credentials())
    changes = {name: getattr(body, name).get_secret_value() for name in ("api_key", "secret")}
    updated = accounts.update(args.account, changes, actor="cli:accounts-set-keys")
    print(f"replaced the keys of {updated.account} (key {updated.api_key_fingerprint})")
    return 0
