"""`stratus keys`: the master key of the exchange credentials, and API tokens.

Rotation without downtime:
  1. `stratus keys new-version` prints the master-key secret with a fresh version added
     and made current; store it as the new version of the `master-key` secret
     (gcloud secrets versions add master-key --data-file=-). Instances pick it up within
     five minutes, or at once when they meet a data key wrapped by it.
  2. `stratus keys rotate` re-wraps every account's data key under the current version.
     Both versions stay readable meanwhile; run it again until it reports 0 left.
  3. Drop the old version from the secret.
"""

from __future__ import annotations

import argparse
from typing import Any

from stratus.adapters.sql.accounts import SqlAccounts
from stratus.adapters.sql.tokens import Role, SqlTokens
from stratus.crypto import SECRET_NAME, Keyring
from stratus.service.bootstrap import build


def register(commands: Any) -> None:
    command = commands.add_parser(
        "keys",
        help="rotate the master key, issue API tokens",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = command.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser(
        "rotate", help="re-wrap every data key under the current master key"
    ).set_defaults(run=run_rotate)
    actions.add_parser("status", help="accounts per master-key version").set_defaults(
        run=run_status
    )
    actions.add_parser(
        "new-version", help="print the master-key secret with a new current version"
    ).set_defaults(run=run_new_version)
    token = actions.add_parser("token", help="issue an API token (printed once)")
    token.add_argument("--name", required=True)
    token.add_argument("--role", choices=[role.value for role in Role], default=Role.READER.value)
    token.set_defaults(run=run_token)


def _accounts() -> SqlAccounts:
    accounts = build().accounts
    if not isinstance(accounts, SqlAccounts):
        raise SystemExit("run this where the database is reachable (unset STRATUS_MANAGER_URL)")
    return accounts


def run_rotate(args: argparse.Namespace) -> int:
    accounts = _accounts()
    rewrapped = accounts.rotate(actor="cli:keys-rotate")
    current = accounts.vault.keyring().current
    left = sum(n for version, n in accounts.key_versions().items() if version != current)
    print(f"re-wrapped {rewrapped} data key(s) under {current}; {left} left on older versions")
    return 0 if left == 0 else 1


def run_status(args: argparse.Namespace) -> int:
    accounts = _accounts()
    print(f"current master-key version: {accounts.vault.keyring().current}")
    for version, count in sorted(accounts.key_versions().items()):
        print(f"  {version}: {count} account(s)")
    return 0


def run_new_version(args: argparse.Namespace) -> int:
    services = build()
    ring = Keyring.parse(services.secrets.get(SECRET_NAME)).with_new_version()
    print(ring.dump())
    return 0


def run_token(args: argparse.Namespace) -> int:
    services = build()
    accounts = services.accounts
    if not isinstance(accounts, SqlAccounts):
        raise SystemExit("run this where the database is reachable (unset STRATUS_MANAGER_URL)")
    tokens = SqlTokens(accounts.database, services.clock)
    token, plaintext = tokens.issue(args.name, Role(args.role), actor="cli:keys-token")
    expires = token.expires_at.isoformat() if token.expires_at else "never"
    print(f"{token.token_id} {token.role.value} {token.name} expires {expires}\n{plaintext}")
    return 0
