"""The manager's HTTP API as the Ledger, Quotas, AccountDirectory and Allocations ports:
how functions in production reach the system of record (the manager is its only writer).

Authentication is a static bearer token (STRATUS_MANAGER_TOKEN) or, on Google Cloud, a
Google-signed ID token for the manager's audience, fetched from the metadata server and
reused until shortly before it expires.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx

from stratus.config import Settings
from stratus.domain.accounts import Account, Allocation
from stratus.domain.amounts import plain
from stratus.domain.errors import PermanentError
from stratus.domain.orders import Fill, OrderRecord, OrderRequest
from stratus.domain.positions import Position
from stratus.domain.records import NotFound, Unavailable
from stratus.ports import BalanceTotals, ExchangeAccount

PREFIX = "/api/v1"
PAGE = 1000


class ManagerError(Unavailable):
    """The manager answered 5xx or could not be reached: retry later."""


class IdTokens:
    """Google ID tokens for one audience, cached until a minute before expiry."""

    def __init__(self, audience: str) -> None:
        self._audience = audience
        self._lock = threading.Lock()
        self._token = ""
        self._expires = 0.0

    def __call__(self) -> str:
        with self._lock:
            if time.time() > self._expires - 60:
                import google.auth.transport.requests
                import google.oauth2.id_token
                from google.auth import jwt

                request = google.auth.transport.requests.Request()
                self._token = google.oauth2.id_token.fetch_id_token(request, self._audience)  # type: ignore[no-untyped-call]
                claims = jwt.decode(self._token, verify=False)  # type: ignore[no-untyped-call]
                self._expires = float(claims.get("exp", time.time() + 300))
            return self._token


class ManagerClient:
    def __init__(self, http: httpx.Client, bearer: Any) -> None:
        """`bearer` is a callable giving the current token (static or ID token)."""
        self._http = http
        self._bearer = bearer

    @classmethod
    def from_settings(cls, settings: Settings) -> ManagerClient:
        url = settings.manager_url
        http = httpx.Client(base_url=url, timeout=settings.manager_timeout_seconds)
        static = settings.manager_token.get_secret_value()
        bearer = (lambda: static) if static else IdTokens(settings.manager_audience or url)
        return cls(http, bearer)

    # Ledger

    def apply_fill(self, fill: Fill) -> Position | None:
        body = {"fills": [fill.model_dump()]}
        result = self._call("POST", "/positions/update", body=body)["results"][0]
        return None if result["position"] is None else Position.model_validate(result["position"])

    def position(self, account: str, strategy: str, symbol: str) -> Position:
        params = {"account": account, "strategy": strategy, "symbol": symbol}
        items = self._call("GET", "/positions", params=params)["items"]
        if not items:
            return Position(account=account, strategy=strategy, symbol=symbol)
        return Position.model_validate(items[0])

    def positions(self, account: str | None = None) -> list[Position]:
        params = {} if account is None else {"account": account}
        return [Position.model_validate(item) for item in self._pages("/positions", params)]

    def realized_pnl_since(self, account: str, since: datetime) -> Decimal:
        params = {"account": account, "since": since.isoformat()}
        return Decimal(self._call("GET", "/portfolio/pnl", params=params)["realized_net"])

    def fills(self, account: str | None = None) -> list[Fill]:
        params = {} if account is None else {"account": account}
        return [Fill.model_validate(item) for item in self._pages("/fills", params)]

    def record_snapshot(
        self, taken_at: datetime, marks: Mapping[str, Decimal], balances: BalanceTotals
    ) -> bool:
        body = {
            "taken_at": taken_at,
            "marks": dict(marks),
            "balances": {account: dict(wallet) for account, wallet in balances.items()},
        }
        return bool(self._call("POST", "/positions/snapshots", body=body)["created"])

    def record_order(self, record: OrderRecord) -> bool:
        path = f"/orders/{record.client_order_id}"
        return bool(self._call("PUT", path, body=record.model_dump())["changed"])

    # Quotas

    def reserve(self, request: OrderRequest, notional: Decimal) -> str | None:
        body = {
            "request_id": request.request_id,
            "account": request.account,
            "strategy": request.strategy,
            "notional": notional,
        }
        result = self._call("POST", "/quotas/reservations", body=body)
        return None if result["granted"] else str(result["reason"])

    def release(self, request_id: str) -> None:
        self._call("POST", f"/quotas/reservations/{request_id}/release")

    # AccountDirectory

    def get(self, account: str) -> Account:
        try:
            return Account.model_validate(self._call("GET", f"/accounts/{account}"))
        except PermanentError as error:
            if error.reason == "http_404":
                raise NotFound("account", account) from None
            raise

    def exchange_account(self, account: str) -> ExchangeAccount:
        try:
            data = self._call("GET", f"/accounts/{account}/credentials")
        except PermanentError as error:
            if error.reason == "http_404":
                raise KeyError(account) from None
            raise
        return ExchangeAccount(**data)

    def accounts(self) -> list[str]:
        return [item["account"] for item in self._pages("/accounts", {})]

    # Allocations

    def allocation(self, account: str, strategy: str) -> Allocation:
        try:
            data = self._call("GET", f"/allocations/{account}/{strategy}")
        except PermanentError as error:
            if error.reason == "http_404":
                raise NotFound("allocation", f"{account}/{strategy}") from None
            raise
        return Allocation.model_validate(data)

    def equity(self, account: str) -> Decimal | None:
        try:
            data = self._call("GET", f"/accounts/{account}/equity")
        except PermanentError as error:
            if error.reason == "http_404":
                return None
            raise
        return None if data["equity"] is None else Decimal(str(data["equity"]))

    def _pages(self, path: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            page = self._call("GET", path, params={**params, "limit": PAGE, "offset": offset})
            yield from page["items"]
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return

    def _call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self._bearer()}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
            kwargs["content"] = json.dumps(body, default=_json_value)
        try:
            response = self._http.request(method, PREFIX + path, headers=headers, **kwargs)
        except httpx.TransportError as error:
            raise ManagerError(f"manager unreachable: {error}") from error
        if response.status_code >= 500 or response.status_code == 429:
            raise ManagerError(f"manager answered {response.status_code}: {response.text[:200]}")
        if response.status_code >= 400:
            # Our own request is wrong (or not allowed): retrying cannot help.
            raise PermanentError(f"http_{response.status_code}", response.text[:500])
        return response.json() if response.content else None


def _json_value(value: object) -> str:
    """Amounts as the manager's grammar reads them (plain text: str() may write
    "1E-8"), times as ISO-8601."""
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")
