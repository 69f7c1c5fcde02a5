"""Quotas per account and strategy, and their atomic reservations (the Quotas port).

A reservation locks its quota row (SELECT ... FOR UPDATE on PostgreSQL; SQLite takes the
write lock at BEGIN IMMEDIATE), so concurrent reservations queue and each sees what the
previous one holds: two can never together pass a limit.
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stratus.adapters.sql import audit
from stratus.adapters.sql.admin_tables import QuotaRow, ReservationRow
from stratus.adapters.sql.audit import Page, paged
from stratus.adapters.sql.db import Database
from stratus.adapters.sql.tables import FillRow
from stratus.adapters.sql.types import plain
from stratus.domain.common import ZERO
from stratus.domain.orders import OrderRequest
from stratus.domain.quotas import Quota, QuotaUsage, refusal
from stratus.domain.records import Conflict, NotFound
from stratus.ports import Clock

LIMITS = ("max_notional", "max_order_notional", "max_open_orders", "max_daily_loss")


class SqlQuotas:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    # The Quotas port.

    def reserve(self, request: OrderRequest, notional: Decimal) -> str | None:
        return self.reserve_for(request.request_id, request.account, request.strategy, notional)

    def reserve_for(
        self, request_id: str, account: str, strategy: str, notional: Decimal
    ) -> str | None:
        now = self._clock.now()
        try:
            with self._db.transaction() as session:
                quota = session.get(QuotaRow, (account, strategy), with_for_update=True)
                if session.get(ReservationRow, request_id) is not None:
                    return None  # this request was granted before: idempotent
                if quota is not None:
                    reason = refusal(_quota(quota), self._usage(session, quota, now), notional)
                    if reason is not None:
                        return reason
                session.add(
                    ReservationRow(
                        request_id=request_id,
                        account=account,
                        strategy=strategy,
                        notional=notional,
                        held=True,
                        created_at=now,
                    )
                )
                session.flush()
                audit.record(
                    session,
                    actor=audit.SYSTEM,
                    action="quota.reserve",
                    entity="reservation",
                    entity_id=request_id,
                    before=None,
                    after={"account": account, "strategy": strategy, "notional": str(notional)},
                    at=now,
                )
        except IntegrityError:
            # A concurrent copy of this request (no quota row to queue on) won the insert.
            with self._db.transaction() as session:
                if session.get(ReservationRow, request_id) is not None:
                    return None
            raise
        return None

    def release(self, request_id: str) -> None:
        with self._db.transaction() as session:
            release_in(session, request_id, self._clock.now())

    def _usage(self, session: Session, quota: QuotaRow, now: datetime) -> QuotaUsage:
        held = session.execute(
            select(ReservationRow.notional).where(
                ReservationRow.account == quota.account,
                ReservationRow.strategy == quota.strategy,
                ReservationRow.held.is_(True),
            )
        ).scalars()
        notionals = list(held)  # summed here: SQLite would sum decimals as floats
        daily = ZERO
        if quota.max_daily_loss is not None:
            midnight = datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)
            pnl = session.execute(
                select(FillRow.realized_pnl, FillRow.fee).where(
                    FillRow.account == quota.account,
                    FillRow.strategy == quota.strategy,
                    FillRow.executed_at >= midnight,
                )
            )
            daily = sum((realized - fee for realized, fee in pnl), ZERO)
        return QuotaUsage(sum(notionals, ZERO), len(notionals), daily)

    # Administration.

    def put(
        self,
        account: str,
        strategy: str,
        limits: dict[str, Any],
        expected_version: int | None = None,
        actor: str = audit.SYSTEM,
    ) -> tuple[Quota, bool]:
        """Create or replace the limits; returns the quota and whether it was created."""
        now = self._clock.now()
        with self._db.transaction() as session:
            row = session.get(QuotaRow, (account, strategy), with_for_update=True)
            created = row is None
            if row is None:
                if expected_version is not None:
                    raise NotFound("quota", f"{account}/{strategy}")
                row = QuotaRow(account=account, strategy=strategy)
                session.add(row)
                before = None
            else:
                if expected_version is not None and row.version != expected_version:
                    raise Conflict("stale_version", f"quota is at version {row.version}")
                before = _quota(row)
            for name in LIMITS:
                value = limits.get(name)
                setattr(row, name, plain(value) if isinstance(value, Decimal) else value)
            row.updated_at = now
            session.flush()
            after = _quota(row)
            audit.record(
                session,
                actor=actor,
                action="quota.put",
                entity="quota",
                entity_id=f"{account}/{strategy}",
                before=before,
                after=after,
                at=now,
            )
            return after, created

    def get(self, account: str, strategy: str) -> Quota:
        with self._db.transaction() as session:
            row = session.get(QuotaRow, (account, strategy))
            if row is None:
                raise NotFound("quota", f"{account}/{strategy}")
            return _quota(row)

    def usage(self, account: str, strategy: str) -> QuotaUsage:
        with self._db.transaction() as session:
            row = session.get(QuotaRow, (account, strategy))
            if row is None:
                raise NotFound("quota", f"{account}/{strategy}")
            return self._usage(session, row, self._clock.now())

    def find(self, page: Page, account: str | None = None) -> tuple[list[Quota], int]:
        query = select(QuotaRow).order_by(QuotaRow.account, QuotaRow.strategy)
        if account is not None:
            query = query.where(QuotaRow.account == account)
        with self._db.transaction() as session:
            rows, total = paged(session, query, page)
            return [_quota(row) for row in rows], total

    def delete(self, account: str, strategy: str, actor: str = audit.SYSTEM) -> None:
        now = self._clock.now()
        with self._db.transaction() as session:
            row = session.get(QuotaRow, (account, strategy), with_for_update=True)
            if row is None:
                raise NotFound("quota", f"{account}/{strategy}")
            before = _quota(row)
            session.delete(row)
            audit.record(
                session,
                actor=actor,
                action="quota.delete",
                entity="quota",
                entity_id=f"{account}/{strategy}",
                before=before,
                after=None,
                at=now,
            )

    def held(self, account: str, strategy: str) -> int:
        query = select(func.count()).where(
            ReservationRow.account == account,
            ReservationRow.strategy == strategy,
            ReservationRow.held.is_(True),
        )
        with self._db.transaction() as session:
            return int(session.scalar(query) or 0)


def _quota(row: QuotaRow) -> Quota:
    return Quota(
        account=row.account,
        strategy=row.strategy,
        max_notional=row.max_notional,
        max_order_notional=row.max_order_notional,
        max_open_orders=row.max_open_orders,
        max_daily_loss=row.max_daily_loss,
        updated_at=row.updated_at,
        version=row.version,
    )


def release_in(session: Session, request_id: str, now: datetime) -> None:
    """Give a reservation back, in the caller's transaction (also the orders ledger's, when
    it records an order's final state); idempotent by request id."""
    row = session.get(ReservationRow, request_id)
    if row is None or not row.held:
        return
    # Lock the quota first, as reserve does, so the two never deadlock.
    session.get(QuotaRow, (row.account, row.strategy), with_for_update=True)
    session.refresh(row, with_for_update=True)
    if not row.held:
        return
    row.held, row.released_at = False, now
    audit.record(
        session,
        actor=audit.SYSTEM,
        action="quota.release",
        entity="reservation",
        entity_id=request_id,
        before={"held": True},
        after={"held": False},
        at=now,
    )
