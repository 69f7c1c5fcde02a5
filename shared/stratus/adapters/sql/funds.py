"""Balances per account and asset (current, and as snapshots recorded them), and
allocations of an account's equity to strategies."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from stratus.adapters.sql import audit
from stratus.adapters.sql.admin_tables import AccountRow, AllocationRow, BalanceRow
from stratus.adapters.sql.audit import Page, paged
from stratus.adapters.sql.db import Database
from stratus.adapters.sql.tables import BalanceSnapshotRow
from stratus.adapters.sql.types import plain
from stratus.domain.accounts import (
    Allocation,
    Balance,
    Balances,
    BalanceSnapshot,
    BalanceSource,
    check_allocations,
)
from stratus.domain.common import ZERO
from stratus.domain.records import Conflict, NotFound
from stratus.ports import Clock


class SqlFunds:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    def put_balance(
        self, account: str, asset: str, free: Decimal, used: Decimal, actor: str = audit.SYSTEM
    ) -> Balance:
        """A balance set by hand (the caller checks the account is a paper one): the
        exchange's balances never replace it."""
        now = self._clock.now()
        with self._db.transaction() as session:
            _account(session, account)
            row = session.get(BalanceRow, (account, asset), with_for_update=True)
            before = None if row is None else _balance(row)
            if row is None:
                row = BalanceRow(account=account, asset=asset)
                session.add(row)
            row.free, row.used, row.total = plain(free), plain(used), plain(free + used)
            row.source = BalanceSource.MANUAL.value
            row.updated_at = now
            session.flush()
            after = _balance(row)
            audit.record(
                session,
                actor=actor,
                action="balance.put",
                entity="balance",
                entity_id=f"{account}/{asset}",
                before=before,
                after=after,
                at=now,
            )
            return after

    def record_balances(self, wallet: Balances) -> bool:
        """The account's wallet as its exchange reported it: every currency is stored,
        those it no longer lists are removed; a manual balance, or one reported later,
        stays. False for an account the system of record does not have. Not audited:
        it is the exchange's data, refreshed every minute."""
        for _ in range(3):  # two refreshes of one account racing: the loser tries again
            try:
                return self._record_balances(wallet)
            except (IntegrityError, StaleDataError):
                continue
        return False

    def _record_balances(self, wallet: Balances) -> bool:
        at = wallet.fetched_at
        with self._db.transaction() as session:
            if session.get(AccountRow, wallet.account) is None:
                return False
            rows = {
                row.asset: row
                for row in session.scalars(
                    select(BalanceRow).where(BalanceRow.account == wallet.account)
                )
            }
            reported = {item.asset for item in wallet.assets}
            for item in wallet.assets:
                row = rows.get(item.asset)
                if row is not None and (_manual(row) or row.updated_at > at):
                    continue
                if row is None:
                    row = BalanceRow(account=wallet.account, asset=item.asset)
                    session.add(row)
                row.free, row.used, row.total = (
                    plain(item.free),
                    plain(item.used),
                    plain(item.total),
                )
                row.source, row.updated_at = BalanceSource.EXCHANGE.value, at
            for asset, row in rows.items():
                if asset not in reported and not _manual(row) and row.updated_at <= at:
                    session.delete(row)
            return True

    def balances(
        self, page: Page, account: str | None = None, asset: str | None = None
    ) -> tuple[list[Balance], int]:
        query = select(BalanceRow).order_by(BalanceRow.account, BalanceRow.asset)
        if account is not None:
            query = query.where(BalanceRow.account == account)
        if asset is not None:
            query = query.where(BalanceRow.asset == asset)
        with self._db.transaction() as session:
            rows, total = paged(session, query, page)
            return [_balance(row) for row in rows], total

    def balance_snapshots(
        self,
        page: Page,
        account: str | None = None,
        asset: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> tuple[list[BalanceSnapshot], int]:
        """Snapshotted exchange balances taken in [since, until), newest first."""
        row = BalanceSnapshotRow
        query = select(row).order_by(row.taken_at.desc(), row.account, row.asset)
        for column, value in ((row.account, account), (row.asset, asset)):
            if value is not None:
                query = query.where(column == value)
        if since is not None:
            query = query.where(row.taken_at >= since)
        if until is not None:
            query = query.where(row.taken_at < until)
        with self._db.transaction() as session:
            rows, total = paged(session, query, page)
            return [_balance_snapshot(found) for found in rows], total

    def equity(self, account: str) -> Decimal | None:
        """The total in the account's currency (None: no balance in it, or no account)."""
        with self._db.transaction() as session:
            owner = session.get(AccountRow, account)
            row = None if owner is None else session.get(BalanceRow, (account, owner.currency))
            return None if row is None else row.total

    def put_allocation(
        self,
        account: str,
        strategy: str,
        amount: Decimal,
        expected_version: int | None = None,
        actor: str = audit.SYSTEM,
    ) -> tuple[Allocation, bool]:
        """Create or change one allocation; the account row is locked so two concurrent
        changes cannot together exceed its equity."""
        now = self._clock.now()
        with self._db.transaction() as session:
            owner = _account(session, account, lock=True)
            row = session.get(AllocationRow, (account, strategy))
            if row is None and expected_version is not None:
                raise NotFound("allocation", f"{account}/{strategy}")
            if row is not None and expected_version not in (None, row.version):
                raise Conflict("stale_version", f"allocation is at version {row.version}")
            others = session.scalars(
                select(AllocationRow.amount).where(
                    AllocationRow.account == account, AllocationRow.strategy != strategy
                )
            )
            equity, currency = _equity(session, owner)
            check_allocations([*others, amount], equity, currency)
            created = row is None
            before = None if row is None else _allocation(row)
            if row is None:
                row = AllocationRow(account=account, strategy=strategy)
                session.add(row)
            row.amount, row.updated_at = plain(amount), now
            session.flush()
            after = _allocation(row)
            audit.record(
                session,
                actor=actor,
                action="allocation.put",
                entity="allocation",
                entity_id=f"{account}/{strategy}",
                before=before,
                after=after,
                at=now,
            )
            return after, created

    def allocation(self, account: str, strategy: str) -> Allocation:
        with self._db.transaction() as session:
            row = session.get(AllocationRow, (account, strategy))
            if row is None:
                raise NotFound("allocation", f"{account}/{strategy}")
            return _allocation(row)

    def allocations(self, page: Page, account: str | None = None) -> tuple[list[Allocation], int]:
        query = select(AllocationRow).order_by(AllocationRow.account, AllocationRow.strategy)
        if account is not None:
            query = query.where(AllocationRow.account == account)
        with self._db.transaction() as session:
            rows, total = paged(session, query, page)
            return [_allocation(row) for row in rows], total

    def delete_allocation(self, account: str, strategy: str, actor: str = audit.SYSTEM) -> None:
        now = self._clock.now()
        with self._db.transaction() as session:
            row = session.get(AllocationRow, (account, strategy), with_for_update=True)
            if row is None:
                raise NotFound("allocation", f"{account}/{strategy}")
            before = _allocation(row)
            session.delete(row)
            audit.record(
                session,
                actor=actor,
                action="allocation.delete",
                entity="allocation",
                entity_id=f"{account}/{strategy}",
                before=before,
                after=None,
                at=now,
            )


def _account(session: Session, account: str, lock: bool = False) -> AccountRow:
    row = session.get(AccountRow, account, with_for_update=lock)
    if row is None:
        raise NotFound("account", account)
    return row


def _equity(session: Session, account: AccountRow) -> tuple[Decimal, str]:
    """Equity is the total balance in the account's currency."""
    row = session.get(BalanceRow, (account.account, account.currency))
    return (row.total if row is not None else ZERO), account.currency


def _manual(row: BalanceRow) -> bool:
    return row.source == BalanceSource.MANUAL.value


def _balance(row: BalanceRow) -> Balance:
    return Balance(
        account=row.account,
        asset=row.asset,
        free=row.free,
        used=row.used,
        total=row.total,
        source=BalanceSource(row.source),
        updated_at=row.updated_at,
        version=row.version,
    )


def _balance_snapshot(row: BalanceSnapshotRow) -> BalanceSnapshot:
    return BalanceSnapshot(
        taken_at=row.taken_at, account=row.account, asset=row.asset, total=row.total
    )


def _allocation(row: AllocationRow) -> Allocation:
    return Allocation(
        account=row.account,
        strategy=row.strategy,
        amount=row.amount,
        updated_at=row.updated_at,
        version=row.version,
    )
