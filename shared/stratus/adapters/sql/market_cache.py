"""The market-metadata cache on SQL (the embedded default; Firestore in production)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from stratus.adapters.market_blob import pack, unpack
from stratus.adapters.sql.db import Database
from stratus.adapters.sql.types import UtcDateTime
from stratus.ports import Clock


class CacheBase(DeclarativeBase):
    """A cache, not the system of record: created on first use, safe to drop."""


class MarketCacheRow(CacheBase):
    __tablename__ = "market_cache"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    fetched_at: Mapped[datetime] = mapped_column(UtcDateTime())
    markets: Mapped[bytes] = mapped_column(LargeBinary())


class SqlMarketCache:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock
        CacheBase.metadata.create_all(database.engine)

    def get(self, key: str, max_age_seconds: int) -> dict[str, dict[str, Any]] | None:
        with self._db.transaction() as session:
            row = session.get(MarketCacheRow, key)
            if row is None:
                return None
            age = (self._clock.now() - row.fetched_at).total_seconds()
            return None if age > max_age_seconds else unpack(row.markets)

    def put(self, key: str, markets: Mapping[str, Mapping[str, Any]]) -> None:
        with self._db.transaction() as session:
            # merge = upsert by primary key: the last writer's markets win, both are fresh
            row = MarketCacheRow(key=key, fetched_at=self._clock.now(), markets=pack(markets))
            session.merge(row)
