"""Tables of the manager's administration: accounts, balances, allocations, quotas,
reservations, API tokens and the audit log."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Index, Integer, LargeBinary, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from stratus.adapters.sql.tables import Base
from stratus.adapters.sql.types import Money, UtcDateTime


class AccountRow(Base):
    """An exchange account; key and secret are AES-256-GCM under a per-account data key,
    itself wrapped by the master key version `key_version`."""

    __tablename__ = "accounts"

    account: Mapped[str] = mapped_column(String(128), primary_key=True)
    exchange_id: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(16))  # equity and allocations are in it
    sandbox: Mapped[bool] = mapped_column(Boolean)
    demo: Mapped[bool] = mapped_column(Boolean)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    api_key_fingerprint: Mapped[str | None] = mapped_column(String(8))  # never more
    key_version: Mapped[str] = mapped_column(String(32), index=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    credentials: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}


class BalanceRow(Base):
    __tablename__ = "balances"

    account: Mapped[str] = mapped_column(String(128), primary_key=True)
    asset: Mapped[str] = mapped_column(String(32), primary_key=True)
    free: Mapped[Decimal] = mapped_column(Money())
    used: Mapped[Decimal] = mapped_column(Money())
    total: Mapped[Decimal] = mapped_column(Money())
    source: Mapped[str] = mapped_column(String(8), server_default="manual")  # BalanceSource
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}


class AllocationRow(Base):
    __tablename__ = "allocations"

    account: Mapped[str] = mapped_column(String(128), primary_key=True)
    strategy: Mapped[str] = mapped_column(String(128), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Money())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}


class QuotaRow(Base):
    """Limits per account and strategy; the row is the lock reservations queue on."""

    __tablename__ = "quotas"

    account: Mapped[str] = mapped_column(String(128), primary_key=True)
    strategy: Mapped[str] = mapped_column(String(128), primary_key=True)
    max_notional: Mapped[Decimal | None] = mapped_column(Money())
    max_order_notional: Mapped[Decimal | None] = mapped_column(Money())
    max_open_orders: Mapped[int | None] = mapped_column(Integer)
    max_daily_loss: Mapped[Decimal | None] = mapped_column(Money())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}


class ReservationRow(Base):
    __tablename__ = "quota_reservations"

    request_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    account: Mapped[str] = mapped_column(String(128))
    strategy: Mapped[str] = mapped_column(String(128))
    notional: Mapped[Decimal] = mapped_column(Money())
    held: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index(None, "account", "strategy", "held"),)


class TokenRow(Base):
    """API bearer tokens, stored as SHA-256 of the token (tokens are 256-bit random)."""

    __tablename__ = "api_tokens"

    token_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # None: never


class AuditRow(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(400))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    trace_id: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index(None, "entity", "entity_id"),)
