"""The manager's repositories over one database, built once per app."""

from __future__ import annotations

from dataclasses import dataclass

from stratus.adapters.sql.accounts import SqlAccounts
from stratus.adapters.sql.audit import SqlAuditLog
from stratus.adapters.sql.db import Database
from stratus.adapters.sql.funds import SqlFunds
from stratus.adapters.sql.ledger import SqlLedger
from stratus.adapters.sql.outcomes import SqlOutcomes
from stratus.adapters.sql.portfolio import SqlPortfolio
from stratus.adapters.sql.quotas import SqlQuotas
from stratus.adapters.sql.round_trips import SqlRoundTrips
from stratus.adapters.sql.tokens import SqlTokens
from stratus.crypto import Vault
from stratus.service.services import Services


@dataclass(frozen=True)
class Store:
    database: Database
    ledger: SqlLedger
    accounts: SqlAccounts
    quotas: SqlQuotas
    funds: SqlFunds
    portfolio: SqlPortfolio
    tokens: SqlTokens
    audit: SqlAuditLog
    outcomes: SqlOutcomes
    trips: SqlRoundTrips

    @classmethod
    def of(cls, services: Services) -> Store:
        """The manager writes SQL itself: it needs the SQL ledger, never the HTTP client."""
        if not isinstance(services.ledger, SqlLedger):
            raise TypeError("the manager needs the SQL ledger (unset STRATUS_MANAGER_URL)")
        database, clock = services.ledger.database, services.clock
        accounts = services.accounts
        if not isinstance(accounts, SqlAccounts):
            accounts = SqlAccounts(database, Vault(services.secrets), clock)
        quotas = services.quotas if isinstance(services.quotas, SqlQuotas) else None
        return cls(
            database=database,
            ledger=services.ledger,
            accounts=accounts,
            quotas=quotas or SqlQuotas(database, clock),
            funds=SqlFunds(database, clock),
            portfolio=SqlPortfolio(database, clock),
            tokens=SqlTokens(database, clock),
            audit=SqlAuditLog(database),
            outcomes=SqlOutcomes(database),
            trips=SqlRoundTrips(database),
        )
