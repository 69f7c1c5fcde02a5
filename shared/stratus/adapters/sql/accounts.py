"""Accounts with envelope-encrypted exchange credentials (also the AccountDirectory)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from stratus.adapters.sql import audit
from stratus.adapters.sql.admin_tables import (
    AccountRow,
    AllocationRow,
    BalanceRow,
    QuotaRow,
)
from stratus.adapters.sql.audit import Page, paged
from stratus.adapters.sql.db import Database
from stratus.adapters.sql.tables import PositionRow
from stratus.crypto import Sealed, Vault
from stratus.domain.accounts import Account, key_fingerprint
from stratus.domain.records import Conflict, NotFound
from stratus.ports import Clock, ExchangeAccount

_PUBLIC = ("exchange_id", "label", "currency", "sandbox", "demo", "enabled")


class SqlAccounts:
    def __init__(self, database: Database, vault: Vault, clock: Clock) -> None:
        self._db = database
        self._vault = vault
        self._clock = clock

    def create(
        self, account: str, api_key: str, secret: str, actor: str = audit.SYSTEM, **public: Any
    ) -> Account:
        now = self._clock.now()
        row = AccountRow(account=account, created_at=now, updated_at=now, **public)
        self._seal(row, api_key, secret)
        try:
            with self._db.transaction() as session:
                session.add(row)
                session.flush()
                created = _account(row)
                audit.record(
                    session,
                    actor=actor,
                    action="account.create",
                    entity="account",
                    entity_id=account,
                    before=None,
                    after=created,
                    at=now,
                )
        except IntegrityError:
            raise Conflict("account_exists", f"account {account!r} already exists") from None
        return created

    def update(
        self,
        account: str,
        changes: dict[str, Any],
        expected_version: int | None = None,
        actor: str = audit.SYSTEM,
    ) -> Account:
        """Apply `changes` (public fields, or api_key + secret which get a new data key)."""
        now = self._clock.now()
        with self._db.transaction() as session:
            row = _get(session, account, expected_version)
            before = _account(row)
            for name in _PUBLIC:
                if name in changes:
                    setattr(row, name, changes[name])
            if "api_key" in changes or "secret" in changes:
                current = self._open(row)
                api_key = changes.get("api_key") or current["api_key"]
                secret = changes.get("secret") or current["secret"]
                self._seal(row, api_key, secret)
            row.updated_at = now
            session.flush()
            after = _account(row)
            audit.record(
                session,
                actor=actor,
                action="account.update",
                entity="account",
                entity_id=account,
                before=before,
                after=after,
                at=now,
            )
            return after

    def delete(self, account: str, actor: str = audit.SYSTEM) -> None:
        now = self._clock.now()
        with self._db.transaction() as session:
            row = _get(session, account)
            open_positions = session.scalar(
                select(func.count())
                .select_from(PositionRow)
                .where(PositionRow.account == account, PositionRow.is_open.is_(True))
            )
            if open_positions:
                raise Conflict(
                    "account_has_open_positions",
                    f"{open_positions} open position(s); close them before deleting",
                )
            before = _account(row)
            for table in (AllocationRow, QuotaRow, BalanceRow):
                session.execute(delete(table).where(table.account == account))
            session.delete(row)
            audit.record(
                session,
                actor=actor,
                action="account.delete",
                entity="account",
                entity_id=account,
                before=before,
                after=None,
                at=now,
            )

    def get(self, account: str) -> Account:
        with self._db.transaction() as session:
            return _account(_get(session, account))

    def find(self, page: Page) -> tuple[list[Account], int]:
        with self._db.transaction() as session:
            rows, total = paged(session, select(AccountRow).order_by(AccountRow.account), page)
            return [_account(row) for row in rows], total

    @property
    def vault(self) -> Vault:
        return self._vault

    @property
    def database(self) -> Database:
        return self._db

    # AccountDirectory: credentials decrypted only here, only in memory, and each read
    # audited (who and when, never the secret).

    def exchange_account(self, account: str, reader: str = audit.SYSTEM) -> ExchangeAccount:
        """The account's decrypted keys for `reader` (the executor: in process, or the
        functions' service identity through the API). Raises KeyError if unknown."""
        now = self._clock.now()
        with self._db.transaction() as session:
            row = session.get(AccountRow, account)
            if row is None:
                raise KeyError(account)
            credentials = self._open(row)
            audit.record(
                session,
                actor=reader,
                action="account.credentials.read",
                entity="account",
                entity_id=account,
                before=None,
                after={"api_key_fingerprint": row.api_key_fingerprint},
                at=now,
            )
            return ExchangeAccount(
                account=row.account,
                exchange_id=row.exchange_id,
                api_key=credentials["api_key"],
                secret=credentials["secret"],
                sandbox=row.sandbox,
                demo=row.demo,
            )

    def accounts(self) -> list[str]:
        with self._db.transaction() as session:
            return list(session.scalars(select(AccountRow.account).order_by(AccountRow.account)))

    # Rotation: data keys re-wrapped one account per transaction, readers never blocked.

    def key_versions(self) -> dict[str, int]:
        query = select(AccountRow.key_version, func.count()).group_by(AccountRow.key_version)
        with self._db.transaction() as session:
            return {version: int(count) for version, count in session.execute(query)}

    def rotate(self, actor: str = audit.SYSTEM, batch: int = 100) -> int:
        """Re-wrap every data key not under the current master key version; returns how
        many were re-wrapped. Safe to run again, and while the API serves traffic."""
        current = self._vault.keyring(refresh=True).current
        rewrapped = 0
        while True:
            with self._db.transaction() as session:
                names = list(
                    session.scalars(
                        select(AccountRow.account)
                        .where(AccountRow.key_version != current)
                        .order_by(AccountRow.account)
                        .limit(batch)
                    )
                )
            if not names:
                return rewrapped
            for name in names:
                try:
                    rewrapped += self._rewrap(name, actor)
                except StaleDataError:
                    continue  # updated meanwhile (maybe re-sealed already): next pass sees it

    def _rewrap(self, account: str, actor: str) -> int:
        now = self._clock.now()
        with self._db.transaction() as session:
            row = session.get(AccountRow, account)
            if row is None:
                return 0  # deleted meanwhile
            old = row.key_version
            sealed = self._vault.rewrap(_sealed(row), account)
            if sealed.key_version == old:
                return 0
            _store(row, sealed)
            audit.record(
                session,
                actor=actor,
                action="account.rekey",
                entity="account",
                entity_id=account,
                before={"key_version": old},
                after={"key_version": sealed.key_version},
                at=now,
            )
            return 1

    def _seal(self, row: AccountRow, api_key: str, secret: str) -> None:
        _store(row, self._vault.seal(_credentials(api_key, secret), row.account))
        row.api_key_fingerprint = key_fingerprint(api_key)

    def _open(self, row: AccountRow) -> dict[str, str]:
        opened: dict[str, str] = json.loads(self._vault.open(_sealed(row), row.account))
        return opened


def _get(session: Session, account: str, expected_version: int | None = None) -> AccountRow:
    row = session.get(AccountRow, account, with_for_update=True)
    if row is None:
        raise NotFound("account", account)
    if expected_version is not None and row.version != expected_version:
        raise Conflict("stale_version", f"account is at version {row.version}")
    return row


def _credentials(api_key: str, secret: str) -> bytes:
    return json.dumps({"api_key": api_key, "secret": secret}).encode()


def _sealed(row: AccountRow) -> Sealed:
    return Sealed(row.key_version, row.wrapped_key, row.credentials)


def _store(row: AccountRow, sealed: Sealed) -> None:
    row.key_version = sealed.key_version
    row.wrapped_key = sealed.wrapped_key
    row.credentials = sealed.ciphertext


def _account(row: AccountRow) -> Account:
    return Account(
        account=row.account,
        exchange_id=row.exchange_id,
        label=row.label,
        currency=row.currency,
        sandbox=row.sandbox,
        demo=row.demo,
        enabled=row.enabled,
        api_key_fingerprint=row.api_key_fingerprint,
        key_version=row.key_version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
    )
