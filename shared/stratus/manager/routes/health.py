"""Liveness and readiness (no auth: Cloud Run and load balancers call these)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from stratus import migrations
from stratus.manager.bodies import StrictJsonRoute
from stratus.manager.routes.deps import StoreDep

router = APIRouter(tags=["health"], route_class=StrictJsonRoute)


@router.get("/health")
@router.get("/live")
def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", response_model=None)
def ready(store: StoreDep) -> dict[str, str] | JSONResponse:
    """Ready when the database answers and its schema is at the code's migration head."""
    try:
        with store.database.transaction() as session:
            session.execute(text("SELECT 1"))
        at = migrations.current(store.database.engine)
    except Exception as error:  # any failure to reach the database means "not ready"
        return JSONResponse({"status": "unavailable", "detail": str(error)}, status_code=503)
    if at != migrations.head():
        detail = f"schema at {at}, code needs {migrations.head()}: run `stratus db upgrade`"
        return JSONResponse({"status": "unavailable", "detail": detail}, status_code=503)
    return {"status": "ready", "schema": at}
