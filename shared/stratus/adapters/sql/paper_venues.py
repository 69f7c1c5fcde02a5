"""Paper venues on SQL (the `PaperVenueStore` port): the embedded stack's venue, shared by
every process on the database (`stratus up`, the CLI, a restart) and by the served paper
exchanges. Firestore keeps them in production-like stacks (firestore_paper_venues).

Beside the execution state, not part of the system of record: the tables are created on
first use. The venue row is compare-and-set on `version`; finished orders are written in
the same transaction and deleted once expired (when the account next finishes one).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from stratus.adapters.sql.db import Database
from stratus.adapters.sql.types import UtcDateTime
from stratus.domain.errors import ConcurrentUpdate
from stratus.ports import Clock, FinishedOrder, StoredVenue


class PaperBase(DeclarativeBase):
    """The paper exchange's own state: a stand-in for an exchange, not the record."""


class PaperVenueRow(PaperBase):
    __tablename__ = "paper_venues"

    account: Mapped[str] = mapped_column(String(200), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[str] = mapped_column(Text)


class PaperOrderRow(PaperBase):
    __tablename__ = "paper_orders"
    __table_args__ = (Index("ix_paper_orders_client", "account", "client_order_id"),)

    account: Mapped[str] = mapped_column(String(200), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_order_id: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    document: Mapped[str] = mapped_column(Text)


class SqlVenueStore:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock
        PaperBase.metadata.create_all(database.engine)

    def load(self, account: str) -> StoredVenue | None:
        with self._db.transaction() as session:
            row = session.get(PaperVenueRow, account)
            return None if row is None else StoredVenue(row.version, row.document)

    def save(
        self, account: str, version: int, document: str, finished: Sequence[FinishedOrder]
    ) -> None:
        with self._db.transaction() as session:
            if version == 0:
                session.add(PaperVenueRow(account=account, version=1, document=document))
                try:
                    session.flush()
                except IntegrityError as error:  # a concurrent first save won
                    raise ConcurrentUpdate(f"paper venue {account} moved on") from error
            else:
                result = session.execute(
                    update(PaperVenueRow)
                    .where(PaperVenueRow.account == account, PaperVenueRow.version == version)
                    .values(version=version + 1, document=document)
                )
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    raise ConcurrentUpdate(f"paper venue {account} moved on")
            if finished:
                expired = PaperOrderRow.expires_at < self._clock.now()
                session.execute(
                    delete(PaperOrderRow).where(PaperOrderRow.account == account, expired)
                )
                session.add_all(_row(account, order) for order in finished)

    def finished_orders(
        self, account: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> list[str]:
        query = select(PaperOrderRow.document).where(PaperOrderRow.account == account)
        if order_id is not None:
            query = query.where(PaperOrderRow.order_id == order_id)
        if client_order_id is not None:
            query = query.where(PaperOrderRow.client_order_id == client_order_id)
        with self._db.transaction() as session:
            return list(session.scalars(query))

    def accounts(self) -> list[str]:
        with self._db.transaction() as session:
            return list(
                session.scalars(select(PaperVenueRow.account).order_by(PaperVenueRow.account))
            )


def _row(account: str, order: FinishedOrder) -> PaperOrderRow:
    return PaperOrderRow(
        account=account,
        order_id=order.order_id,
        client_order_id=order.client_order_id,
        expires_at=order.expires_at,
        document=order.document,
    )
