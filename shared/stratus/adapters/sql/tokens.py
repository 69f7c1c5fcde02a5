"""API bearer tokens for machines: 256-bit random, shown once, stored as SHA-256 (a fast
hash is enough for random tokens: there is nothing to brute-force). Each expires
(DEFAULT_LIFETIME unless said) and can be revoked; people sign in with their Google
identity instead (stratus.manager.auth)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from stratus.adapters.sql import audit
from stratus.adapters.sql.admin_tables import TokenRow
from stratus.adapters.sql.db import Database
from stratus.domain.records import Conflict, NotFound
from stratus.ports import Clock

PREFIX = "stx_"
DEFAULT_LIFETIME = timedelta(days=90)


class Role(StrEnum):
    READER = "reader"  # reads everything but credentials
    TRADER = "trader"  # also mutates trading data: fills, orders, quotas, allocations
    ADMIN = "admin"  # also manages accounts, keys and tokens

    @property
    def rank(self) -> int:
        return [Role.READER, Role.TRADER, Role.ADMIN].index(self)


class Token(BaseModel):
    token_id: str
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None  # None: never (the local development token)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SqlTokens:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    def issue(
        self,
        name: str,
        role: Role,
        actor: str = audit.SYSTEM,
        lifetime: timedelta = DEFAULT_LIFETIME,
    ) -> tuple[Token, str]:
        """A new token valid for `lifetime`; the plaintext is returned here and never again."""
        plaintext = PREFIX + secrets.token_urlsafe(32)
        expires = self._clock.now() + lifetime
        token = self._insert(secrets.token_hex(8), name, role, plaintext, actor, expires)
        return token, plaintext

    def seed(self, token_id: str, name: str, role: Role, plaintext: str) -> bool:
        """Store a known token (local development's admin token) unless it exists."""
        with self._db.transaction() as session:
            if session.get(TokenRow, token_id) is not None:
                return False
        try:
            self._insert(token_id, name, role, plaintext, audit.SYSTEM, None)
        except Conflict:
            return False
        return True

    def _insert(
        self,
        token_id: str,
        name: str,
        role: Role,
        plaintext: str,
        actor: str,
        expires_at: datetime | None,
    ) -> Token:
        now = self._clock.now()
        row = TokenRow(
            token_id=token_id,
            name=name,
            role=role.value,
            token_hash=digest(plaintext),
            created_at=now,
            revoked_at=None,
            expires_at=expires_at,
        )
        try:
            with self._db.transaction() as session:
                session.add(row)
                session.flush()
                token = _token(row)
                audit.record(
                    session,
                    actor=actor,
                    action="token.issue",
                    entity="token",
                    entity_id=token_id,
                    before=None,
                    after=token,
                    at=now,
                )
        except IntegrityError:
            raise Conflict("token_exists", f"token {token_id!r} exists") from None
        return token

    def authenticate(self, plaintext: str) -> Token | None:
        query = select(TokenRow).where(TokenRow.token_hash == digest(plaintext))
        with self._db.transaction() as session:
            row = session.scalars(query).one_or_none()
            if row is None or row.revoked_at is not None:
                return None
            if row.expires_at is not None and row.expires_at <= self._clock.now():
                return None
            return _token(row)

    def revoke(self, token_id: str, actor: str = audit.SYSTEM) -> Token:
        now = self._clock.now()
        with self._db.transaction() as session:
            row = session.get(TokenRow, token_id, with_for_update=True)
            if row is None:
                raise NotFound("token", token_id)
            before = _token(row)
            if row.revoked_at is None:
                row.revoked_at = now
            after = _token(row)
            audit.record(
                session,
                actor=actor,
                action="token.revoke",
                entity="token",
                entity_id=token_id,
                before=before,
                after=after,
                at=now,
            )
            return after

    def all(self) -> list[Token]:
        with self._db.transaction() as session:
            rows = session.scalars(select(TokenRow).order_by(TokenRow.created_at))
            return [_token(row) for row in rows]


def _token(row: TokenRow) -> Token:
    return Token(
        token_id=row.token_id,
        name=row.name,
        role=Role(row.role),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        expires_at=row.expires_at,
    )
