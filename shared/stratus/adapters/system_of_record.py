"""Where the system of record is: the SQL database itself (the manager, the embedded
stack) or, for functions in production, the manager's HTTP API (STRATUS_MANAGER_URL)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from stratus.config import Settings
from stratus.ports import AccountDirectory, Allocations, Clock, Ledger, Quotas, Secrets

if TYPE_CHECKING:
    from stratus.adapters.sql.db import Database


@dataclass(frozen=True)
class SystemOfRecord:
    ledger: Ledger
    quotas: Quotas
    accounts: AccountDirectory
    allocations: Allocations


def remote(settings: Settings) -> SystemOfRecord | None:
    """The manager client when manager_url is set, else None."""
    if not settings.manager_url:
        return None
    from stratus.adapters.manager_client import ManagerClient

    client = ManagerClient.from_settings(settings)
    return SystemOfRecord(client, client, client, client)


def local(database: Database, secrets: Secrets, clock: Clock) -> SystemOfRecord:
    """Straight to SQL; the embedded database is migrated to head on first use."""
    from stratus.adapters.sql.accounts import SqlAccounts
    from stratus.adapters.sql.funds import SqlFunds
    from stratus.adapters.sql.ledger import SqlLedger
    from stratus.adapters.sql.quotas import SqlQuotas
    from stratus.crypto import Vault

    return SystemOfRecord(
        SqlLedger(database, clock=clock),
        SqlQuotas(database, clock),
        SqlAccounts(database, Vault(secrets), clock),
        SqlFunds(database, clock),
    )
