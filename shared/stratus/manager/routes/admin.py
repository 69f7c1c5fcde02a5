"""Keys, API tokens and the audit log (admin only, but reading the audit log)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from stratus.adapters.sql.audit import AuditEntry
from stratus.adapters.sql.tokens import DEFAULT_LIFETIME, Role, Token
from stratus.domain.common import Identifier
from stratus.manager.auth import Admin, Reader
from stratus.manager.bodies import StrictJsonRoute
from stratus.manager.routes.deps import StoreDep
from stratus.manager.schemas import Paged, Paging, paged

router = APIRouter(route_class=StrictJsonRoute)

MAX_LIFETIME_DAYS = 366  # a machine token is renewed at least yearly


class KeyStatus(BaseModel):
    current: str
    accounts_by_version: dict[str, int]


class Rotation(KeyStatus):
    rewrapped: int


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Identifier
    role: Role
    expires_in_days: int = Field(default=DEFAULT_LIFETIME.days, ge=1, le=MAX_LIFETIME_DAYS)


class IssuedToken(Token):
    token: str  # shown once


@router.get("/keys", response_model=KeyStatus, tags=["keys"])
def key_status(store: StoreDep, _: Admin) -> KeyStatus:
    current = store.accounts.vault.keyring().current
    return KeyStatus(current=current, accounts_by_version=store.accounts.key_versions())


@router.post("/keys/rotate", response_model=Rotation, tags=["keys"])
def rotate(store: StoreDep, principal: Admin) -> Rotation:
    """Re-wrap every account's data key under the current master-key version."""
    rewrapped = store.accounts.rotate(actor=principal.name)
    current = store.accounts.vault.keyring().current
    versions = store.accounts.key_versions()
    return Rotation(current=current, accounts_by_version=versions, rewrapped=rewrapped)


@router.get("/tokens", response_model=list[Token], tags=["tokens"])
def list_tokens(store: StoreDep, _: Admin) -> list[Token]:
    """Every machine token with its expiry and revocation (never the token itself)."""
    return store.tokens.all()


@router.post("/tokens", response_model=IssuedToken, status_code=201, tags=["tokens"])
def issue_token(body: TokenIn, store: StoreDep, principal: Admin) -> IssuedToken:
    lifetime = timedelta(days=body.expires_in_days)
    token, plaintext = store.tokens.issue(body.name, body.role, principal.name, lifetime)
    return IssuedToken(**token.model_dump(), token=plaintext)


TokenId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,32}$")]


@router.delete("/tokens/{token_id}", status_code=204, tags=["tokens"])
def revoke_token(
    token_id: TokenId, store: StoreDep, principal: Admin, request: Request
) -> Response:
    """Revoked here at once; other instances stop accepting it within 10 seconds."""
    store.tokens.revoke(token_id, actor=principal.name)
    request.app.state.authenticator.forget()
    return Response(status_code=204)


Word = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:@/\-]{1,400}$")]


@router.get("/audit", response_model=Paged[AuditEntry], tags=["audit"])
def audit_log(
    store: StoreDep,
    _: Reader,
    page: Paging,
    entity: Word | None = None,
    entity_id: Word | None = None,
    actor: Word | None = None,
    action: Word | None = None,
    since: AwareDatetime | None = None,
) -> Paged[AuditEntry]:
    entries, total = store.audit.entries(page, entity, entity_id, actor, action, since)
    return paged(entries, total, page)
