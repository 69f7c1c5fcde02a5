"""Exchange accounts from one secret, until (or where) the manager's directory is wired.

The secret `exchange-accounts` holds JSON like
``{"main": {"exchange_id": "bybit", "api_key": "...", "secret": "...", "demo": true}}``.
The local emulator stack and the served paper exchange use this; production reads the
manager's encrypted keys through its AccountDirectory instead.
"""

from __future__ import annotations

import json
from functools import cached_property

from stratus.ports import ExchangeAccount, Secrets

SECRET_NAME = "exchange-accounts"


class SecretAccounts:
    """ExchangeCredentials from the `exchange-accounts` secret, read once, kept in memory."""

    def __init__(self, secrets: Secrets) -> None:
        self._secrets = secrets

    @cached_property
    def _accounts(self) -> dict[str, ExchangeAccount]:
        try:
            raw = json.loads(self._secrets.get(SECRET_NAME))
        except KeyError:
            return {}
        return {name: ExchangeAccount(account=name, **fields) for name, fields in raw.items()}

    def exchange_account(self, account: str) -> ExchangeAccount:
        return self._accounts[account]

    def accounts(self) -> list[str]:
        return sorted(self._accounts)
