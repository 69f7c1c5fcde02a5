"""Liveness and readiness (no auth: Cloud Run and load balancers call these).

/live answers while the process serves (Cloud Run's probes use it). /ready tells the
truth about what the manager depends on, each with its own status: the database (and
its schema at the code's head), the message bus, and each exchange its accounts trade
on (a public call, through one account of each). Any failing dependency answers 503
with the rest still reported. Exchange answers are kept CHECK_TTL_SECONDS, so a monitor
polling /ready does not spend the accounts' request budget.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from stratus import migrations
from stratus.adapters.sql.audit import Page
from stratus.manager.bodies import StrictJsonRoute
from stratus.manager.routes.deps import ServicesDep, StoreDep
from stratus.manager.store import Store
from stratus.service.services import Services

router = APIRouter(tags=["health"], route_class=StrictJsonRoute)

CHECK_TTL_SECONDS = 15.0
ACCOUNTS_CHECKED = Page(limit=10_000)
Check = dict[str, Any]

_exchanges: dict[str, tuple[float, Check]] = {}  # exchange -> (checked at, its check)
_lock = threading.Lock()


@router.get("/health")
@router.get("/live")
def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", response_model=None)
def ready(store: StoreDep, services: ServicesDep) -> dict[str, Any] | JSONResponse:
    """Ready when every dependency answers: the database at the schema's head, the bus,
    and each exchange; `checks` says how each one is."""
    database = _database(store)
    checks: dict[str, Any] = {
        "database": database,
        "bus": _probe(services.bus.ping),
        "exchanges": _exchanges_of(store, services) if database["status"] == "ok" else {},
    }
    failing = [
        f"{name}: {check['detail']}"
        for name, check in [
            ("database", checks["database"]),
            ("bus", checks["bus"]),
            *((f"exchange {name}", c) for name, c in checks["exchanges"].items()),
        ]
        if check["status"] != "ok"
    ]
    body = {"status": "unavailable" if failing else "ready", "checks": checks}
    if failing:
        return JSONResponse({**body, "detail": "; ".join(failing)}, status_code=503)
    return {**body, "schema": database["schema"]}


def _database(store: Store) -> Check:
    try:
        with store.database.transaction() as session:
            session.execute(text("SELECT 1"))
        at = migrations.current(store.database.engine)
    except Exception as error:  # any failure to reach the database means "not ready"
        return {"status": "unavailable", "detail": str(error)}
    if at != migrations.head():
        detail = f"schema at {at}, code needs {migrations.head()}: run `stratus db upgrade`"
        return {"status": "unavailable", "detail": detail, "schema": at}
    return {"status": "ok", "schema": at}


def _exchanges_of(store: Store, services: Services) -> dict[str, Check]:
    """One check per exchange (and environment) the accounts use, through the first
    account of each."""
    through: dict[str, str] = {}
    for account in store.accounts.find(ACCOUNTS_CHECKED)[0]:
        environment = "demo" if account.demo else "sandbox" if account.sandbox else "live"
        name = "paper" if services.settings.exchange == "paper" else (
            f"{account.exchange_id}/{environment}"
        )  # fmt: skip
        through.setdefault(name, account.account)
    checks = {}
    for name, first in sorted(through.items()):
        now = time.monotonic()
        with _lock:
            cached = _exchanges.get(name)
        if cached is not None and now - cached[0] < CHECK_TTL_SECONDS:
            checks[name] = cached[1]
            continue
        check = _probe(partial(_ping, services, first))
        checks[name] = {**check, "through": first}
        with _lock:
            _exchanges[name] = (now, checks[name])
    return checks


def _ping(services: Services, account: str) -> None:
    services.exchanges.for_account(account).ping()


def _probe(call: Callable[[], None]) -> Check:
    started = time.monotonic()
    try:
        call()
    except Exception as error:  # whatever it is, this dependency is not there
        return {"status": "unavailable", "detail": str(error) or type(error).__name__}
    return {"status": "ok", "latency_ms": round((time.monotonic() - started) * 1000, 1)}
