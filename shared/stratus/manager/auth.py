"""Bearer authentication and roles.

Three kinds of bearer: API tokens for machines, issued by the manager (stored hashed,
expiring, revocable); in production, Google-signed ID tokens of service accounts (Cloud
Scheduler, the functions) whose audience must be the manager and whose e-mail maps to a
role in settings; and Google ID tokens of people (`gcloud auth print-identity-token`),
whose e-mail maps to a role by terraform's admins/traders/readers (docs/deploy.md).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from stratus.adapters.sql.tokens import PREFIX, Role, digest
from stratus.config import GOOGLE_CERTS_URL, Settings
from stratus.manager.store import Store

CHALLENGE = {"WWW-Authenticate": "Bearer"}
TOKEN_CACHE_SECONDS = 10.0
GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")


@dataclass(frozen=True)
class Principal:
    name: str  # "token:<name>", "user:<e-mail>" or the service account e-mail
    role: Role
    service: bool = False  # a Google-authenticated service identity

    def allows(self, role: Role) -> bool:
        return self.role.rank >= role.rank


class GoogleIdTokens:
    """Verifies Google ID tokens: Google's signature (keys from `certs_url`), issuer,
    expiry, a verified e-mail, and the audience: the manager's own for service
    identities, that or one of `people_audiences` for people. A verified token is
    remembered until its expiry so each request does not re-verify (and re-fetch the
    keys)."""

    def __init__(
        self,
        audience: str,
        roles: dict[str, str],
        people: dict[str, str] | None = None,
        people_audiences: list[str] | None = None,
        certs_url: str = GOOGLE_CERTS_URL,
    ) -> None:
        self._audience = audience
        self._roles = {email: Role(role) for email, role in roles.items()}
        self._people = {email.lower(): Role(role) for email, role in (people or {}).items()}
        self._people_audiences = [a for a in [audience, *(people_audiences or [])] if a]
        self._certs_url = certs_url
        self._seen: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def verify(self, token: str) -> Principal | None:
        now = time.time()
        with self._lock:
            cached = self._seen.get(token)
        if cached is not None and cached[0] > now:
            return cached[1]
        claims = _verify(token, self._people_audiences, self._certs_url)
        if claims is None or claims.get("email_verified") is not True:
            return None
        principal = self._principal(claims)
        if principal is None:
            return None
        with self._lock:
            if len(self._seen) > 1000:
                self._seen.clear()
            self._seen[token] = (float(claims.get("exp", now)), principal)
        return principal

    def _principal(self, claims: dict[str, Any]) -> Principal | None:
        email = str(claims.get("email", ""))
        service = self._roles.get(email)
        if service is not None:  # a service identity's token is for the manager alone
            return (
                Principal(email, service, service=True)
                if claims.get("aud") == self._audience
                else None
            )
        person = self._people.get(email.lower())
        return None if person is None else Principal(f"user:{email.lower()}", person)


def _verify(token: str, audiences: list[str], certs_url: str) -> dict[str, Any] | None:
    """The token's claims once Google's signature, the audience, the issuer and the
    expiry hold; None for any token that does not."""
    import google.auth.transport.requests
    import google.oauth2.id_token
    from google.auth import exceptions

    if not audiences:
        return None
    try:
        claims: dict[str, Any] = dict(
            google.oauth2.id_token.verify_token(
                token,
                google.auth.transport.requests.Request(),
                audience=audiences,
                certs_url=certs_url,
            )
        )
    except (ValueError, exceptions.GoogleAuthError):
        return None
    return claims if claims.get("iss") in GOOGLE_ISSUERS else None


class Authenticator:
    """Resolves a bearer to a principal. API tokens are remembered for TOKEN_CACHE_SECONDS
    (a database round trip saved per request), so a revocation takes that long at most."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._known: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()
        self._google = (
            GoogleIdTokens(
                settings.manager_audience,
                settings.manager_service_accounts,
                settings.manager_people,
                settings.manager_people_audiences,
                settings.manager_google_certs_url,
            )
            if settings.manager_audience or settings.manager_people
            else None
        )

    def principal(self, authorization: str | None) -> Principal | None:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        if token.startswith(PREFIX):
            return self._api_token(token)
        if self._google is not None and token.count(".") == 2:
            return self._google.verify(token)
        return None

    def forget(self) -> None:
        """Drop remembered tokens (a revocation here takes effect at once)."""
        with self._lock:
            self._known.clear()

    def _api_token(self, token: str) -> Principal | None:
        key = digest(token)
        now = time.monotonic()
        with self._lock:
            cached = self._known.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = self._store.tokens.authenticate(token)
        if found is None:
            return None
        principal = Principal(f"token:{found.name}", found.role)
        with self._lock:
            if len(self._known) > 1000:
                self._known.clear()
            self._known[key] = (now + TOKEN_CACHE_SECONDS, principal)
        return principal


_bearer = HTTPBearer(auto_error=False, description="API token (stx_...) or Google ID token")


def _principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    authenticator: Authenticator = request.app.state.authenticator
    header = f"Bearer {credentials.credentials}" if credentials is not None else None
    principal = authenticator.principal(header)
    if principal is None:
        raise HTTPException(401, "a valid bearer token is required", headers=CHALLENGE)
    return principal


@dataclass(frozen=True)
class Require:
    """A route's access rule, as a dependency the route table exposes (the authorization
    tests read it from there). `service_only`: Google-authenticated service identities
    alone, whatever role a token carries (decrypted exchange keys: a leaked admin token
    must not leak them)."""

    role: Role
    service_only: bool = False
    service_role: Role | None = None  # what a service identity needs instead of `role`

    def __call__(self, principal: Annotated[Principal, Depends(_principal)]) -> Principal:
        if self.service_only and not principal.service:
            raise HTTPException(403, "only the executor's service identity may do this")
        role = self.service_role if principal.service and self.service_role else self.role
        if not principal.allows(role):
            raise HTTPException(403, f"needs the {role.value} role")
        return principal


Reader = Annotated[Principal, Depends(Require(Role.READER))]
Trader = Annotated[Principal, Depends(Require(Role.TRADER))]
Admin = Annotated[Principal, Depends(Require(Role.ADMIN))]
Executor = Annotated[Principal, Depends(Require(Role.TRADER, service_only=True))]
# Pub/Sub's push identity is a reader service: made a trader it would be an executor, and
# could read exchange keys. A token still needs the trader role (the local push relay).
Pusher = Annotated[Principal, Depends(Require(Role.TRADER, service_role=Role.READER))]
