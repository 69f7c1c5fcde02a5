"""Tables of what a person must know, derived from the topics by the manager's recorder:
each signal's fate, dead letters, reconciliation reports."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stratus.adapters.sql.tables import Base
from stratus.adapters.sql.types import Money, UtcDateTime


class SignalRow(Base):
    __tablename__ = "signals"

    signal_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    source: Mapped[str | None] = mapped_column(String(128))
    account: Mapped[str | None] = mapped_column(String(128))
    strategy: Mapped[str | None] = mapped_column(String(128))
    symbol: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str | None] = mapped_column(String(16))
    quantity: Mapped[Decimal | None] = mapped_column(Money())
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index(None, "received_at"),
        Index(None, "status", "received_at"),
        Index(None, "account", "received_at"),
    )


class DeadLetterRow(Base):
    """A message some subscriber could never process, with the reason it gave."""

    __tablename__ = "dead_letters"

    topic: Mapped[str] = mapped_column(String(64), primary_key=True)  # where it came from
    message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    function: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)
    signal_id: Mapped[str | None] = mapped_column(String(128), index=True)
    data: Mapped[str] = mapped_column(Text)  # the start of the message
    dead_lettered_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index(None, "dead_lettered_at"),)


class ReconciliationRow(Base):
    __tablename__ = "reconciliation_reports"

    report_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    account: Mapped[str] = mapped_column(String(128))
    run_at: Mapped[datetime] = mapped_column(UtcDateTime())
    clean: Mapped[bool] = mapped_column(Boolean)
    adopted_fills: Mapped[int] = mapped_column(Integer)
    report: Mapped[str] = mapped_column(Text)  # the report as JSON, balances included

    __table_args__ = (Index(None, "run_at"), Index(None, "account", "run_at"))
