"""The audit log: one row per mutation, written in the mutation's own transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from stratus.adapters.sql.admin_tables import AuditRow
from stratus.adapters.sql.db import Database
from stratus.observability import current_trace_id

SYSTEM = "system"


@dataclass(frozen=True)
class Page:
    limit: int = 100
    offset: int = 0


def paged(session: Session, query: Select[Any], page: Page) -> tuple[list[Any], int]:
    """One page of `query` plus the total number of rows it matches."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = list(session.scalars(query.limit(page.limit).offset(page.offset)))
    return rows, int(total or 0)


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    before: BaseModel | dict[str, Any] | None,
    after: BaseModel | dict[str, Any] | None,
    at: datetime,
) -> None:
    session.add(AuditRow(**values(actor, action, entity, entity_id, before, after, at)))


def values(
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    before: BaseModel | dict[str, Any] | None,
    after: BaseModel | dict[str, Any] | None,
    at: datetime,
) -> dict[str, Any]:
    """An audit row's columns (for writers that insert many rows in one statement)."""
    return {
        "at": at,
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "before": _json(before),
        "after": _json(after),
        "trace_id": current_trace_id(),
    }


def _json(value: BaseModel | dict[str, Any] | None) -> str | None:
    if value is None:
        return None
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    return json.dumps(data, default=str, sort_keys=True)


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    trace_id: str


class SqlAuditLog:
    def __init__(self, database: Database) -> None:
        self._db = database

    def entries(
        self,
        page: Page,
        entity: str | None = None,
        entity_id: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
    ) -> tuple[list[AuditEntry], int]:
        query = select(AuditRow).order_by(AuditRow.id.desc())
        for column, value in (
            (AuditRow.entity, entity),
            (AuditRow.entity_id, entity_id),
            (AuditRow.actor, actor),
            (AuditRow.action, action),
        ):
            if value is not None:
                query = query.where(column == value)
        if since is not None:
            query = query.where(AuditRow.at >= since)
        with self._db.transaction() as session:
            rows, total = paged(session, query, page)
            return [_entry(row) for row in rows], total


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        entity=row.entity,
        entity_id=row.entity_id,
        before=json.loads(row.before) if row.before else None,
        after=json.loads(row.after) if row.after else None,
        trace_id=row.trace_id,
    )
