"""Signal fates, dead letters and reconciliation reports: written by the recorder, read by
the API and the console. Every write is idempotent (a redelivered message changes nothing)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stratus.adapters.sql.audit import Page, paged
from stratus.adapters.sql.convert import order_row
from stratus.adapters.sql.db import Database
from stratus.adapters.sql.outcome_tables import DeadLetterRow, ReconciliationRow, SignalRow
from stratus.adapters.sql.tables import OrderRow
from stratus.domain.outcomes import SignalOutcome, SignalStatus
from stratus.domain.reconciliation import ReconciliationReport
from stratus.domain.records import OrderEntry

TEXT_LIMIT = 2000  # characters of a dead letter's data or a detail kept
ATTEMPTS = 3
REASON_WIDTH = 64
# The text a fact may tell of its signal, and its columns' widths (a refusal quotes
# whatever the body said).
WIDTHS = {"source": 128, "account": 128, "strategy": 128, "symbol": 64, "action": 16}
# A dead letter's text, from whatever a publisher put in it.
LETTER_WIDTHS = {"function": 64, "reason": REASON_WIDTH, "detail": TEXT_LIMIT, "data": TEXT_LIMIT}


@dataclass(frozen=True)
class Fact:
    """One thing learnt about a signal; what it says of the signal itself may be partial."""

    signal_id: str
    status: SignalStatus
    at: datetime
    reason: str | None = None
    detail: str | None = None
    source: str | None = None
    account: str | None = None
    strategy: str | None = None
    symbol: str | None = None
    action: str | None = None
    quantity: Decimal | None = None


@dataclass(frozen=True)
class SignalFilter:
    status: str | None = None
    account: str | None = None
    strategy: str | None = None
    symbol: str | None = None
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class SignalFate:
    outcome: SignalOutcome
    orders: list[OrderEntry]


class DeadLetter(BaseModel):
    """A message some subscriber could never process; `topic` is where it came from (its
    dead-letter topic is `<topic>-dead-letter`)."""

    topic: str
    message_id: str
    function: str
    reason: str
    detail: str
    signal_id: str | None
    data: str
    dead_lettered_at: datetime


class DeadLetterCount(BaseModel):
    topic: str
    count: int
    last: datetime


class SqlOutcomes:
    def __init__(self, database: Database) -> None:
        self._db = database

    def learn(self, fact: Fact) -> SignalOutcome:
        """Fold a fact into the signal's row: its status only grows graver; what is known
        of the signal is filled in from whichever fact carries it. Two first facts of one
        signal racing to insert: the loser reads the winner's row and folds into it."""
        for _ in range(ATTEMPTS - 1):
            try:
                return self._learn(fact)
            except IntegrityError:
                continue
        return self._learn(fact)

    def _learn(self, fact: Fact) -> SignalOutcome:
        with self._db.transaction() as session:
            row = session.get(SignalRow, fact.signal_id, with_for_update=True)
            if row is None:
                row = SignalRow(signal_id=fact.signal_id, received_at=fact.at, updated_at=fact.at)
                session.add(row)
            if row.status is None or fact.status.gravity > SignalStatus(row.status).gravity:
                row.status = fact.status.value
                row.reason = _stored(fact.reason, REASON_WIDTH)
                row.detail = _stored(fact.detail, TEXT_LIMIT)
                row.updated_at = max(row.updated_at, fact.at)
            for name, width in WIDTHS.items():
                if getattr(row, name) is None:
                    setattr(row, name, _stored(getattr(fact, name), width))
            if row.quantity is None:
                row.quantity = fact.quantity
            row.received_at = min(row.received_at, fact.at)
            session.flush()
            return _outcome(row)

    def dead_letter(self, letter: DeadLetter) -> bool:
        """Keep a dead letter once per (topic, message id); False for a repeat."""
        with self._db.transaction() as session:
            if session.get(DeadLetterRow, (letter.topic, letter.message_id)) is not None:
                return False
            fields = letter.model_dump()
            fields.update({name: _stored(fields[name], w) for name, w in LETTER_WIDTHS.items()})
            session.add(DeadLetterRow(**fields))
            return True

    def report(self, report: ReconciliationReport) -> bool:
        with self._db.transaction() as session:
            if session.get(ReconciliationRow, report.report_id) is not None:
                return False
            session.add(
                ReconciliationRow(
                    report_id=report.report_id,
                    account=report.account,
                    run_at=report.run_at,
                    clean=report.clean,
                    adopted_fills=report.adopted_fills,
                    report=report.model_dump_json(),
                )
            )
            return True

    def signals(self, where: SignalFilter, page: Page) -> tuple[list[SignalFate], int]:
        """Newest first, each with the orders it became."""
        query = select(SignalRow).order_by(SignalRow.received_at.desc(), SignalRow.signal_id)
        for column, value in (
            (SignalRow.status, where.status),
            (SignalRow.account, where.account),
            (SignalRow.strategy, where.strategy),
            (SignalRow.symbol, where.symbol),
            (SignalRow.source, where.source),
        ):
            if value is not None:
                query = query.where(column == value)
        if where.since is not None:
            query = query.where(SignalRow.received_at >= where.since)
        if where.until is not None:
            query = query.where(SignalRow.received_at < where.until)
        with self._db.transaction() as session:
            rows, total = paged(session, query, page)
            orders = _orders_of(session, [row.signal_id for row in rows])
            fates = [SignalFate(_outcome(row), orders.get(row.signal_id, [])) for row in rows]
        return fates, total

    def dead_letters(self, page: Page, topic: str | None = None) -> tuple[list[DeadLetter], int]:
        query = select(DeadLetterRow).order_by(DeadLetterRow.dead_lettered_at.desc())
        if topic is not None:
            query = query.where(DeadLetterRow.topic == topic)
        with self._db.transaction() as session:
            rows, total = paged(session, query, page)
            return [_dead_letter(row) for row in rows], total

    def dead_letter_counts(self) -> list[DeadLetterCount]:
        query = (
            select(DeadLetterRow.topic, func.count(), func.max(DeadLetterRow.dead_lettered_at))
            .group_by(DeadLetterRow.topic)
            .order_by(DeadLetterRow.topic)
        )
        with self._db.transaction() as session:
            rows = session.execute(query)
            return [DeadLetterCount(topic=t, count=n, last=last) for t, n, last in rows]

    def reports(
        self, page: Page, account: str | None = None, clean: bool | None = None
    ) -> tuple[list[ReconciliationReport], int]:
        query = select(ReconciliationRow).order_by(ReconciliationRow.run_at.desc())
        if account is not None:
            query = query.where(ReconciliationRow.account == account)
        if clean is not None:
            query = query.where(ReconciliationRow.clean.is_(clean))
        with self._db.transaction() as session:
            rows, total = paged(session, query, page)
            found = [ReconciliationReport.model_validate_json(row.report) for row in rows]
        return found, total

    def last_reconcile(self) -> datetime | None:
        with self._db.transaction() as session:
            found: datetime | None = session.scalar(select(func.max(ReconciliationRow.run_at)))
            return found


def _stored(text: str | None, width: int) -> str | None:
    """Text as a column holds it: cut to its width, valid UTF-8 (no lone surrogate) and
    no NUL, which PostgreSQL refuses. A dead letter may carry anything."""
    if text is None:
        return None
    valid = text.encode("utf-8", errors="replace").decode("utf-8")
    return valid.replace("\x00", "\ufffd")[:width]


def _orders_of(session: Session, signal_ids: list[str]) -> dict[str, list[OrderEntry]]:
    found: dict[str, list[OrderEntry]] = defaultdict(list)
    if signal_ids:
        query = select(OrderRow).where(OrderRow.signal_id.in_(signal_ids))
        for row in session.scalars(query.order_by(OrderRow.request_id)):
            found[row.signal_id].append(order_row(row))
    return found


def _outcome(row: SignalRow) -> SignalOutcome:
    return SignalOutcome(
        signal_id=row.signal_id,
        source=row.source,
        account=row.account,
        strategy=row.strategy,
        symbol=row.symbol,
        action=row.action,
        quantity=row.quantity,
        status=SignalStatus(row.status),
        reason=row.reason,
        detail=row.detail,
        received_at=row.received_at,
        updated_at=row.updated_at,
    )


def _dead_letter(row: DeadLetterRow) -> DeadLetter:
    return DeadLetter(**{name: getattr(row, name) for name in DeadLetter.model_fields})
