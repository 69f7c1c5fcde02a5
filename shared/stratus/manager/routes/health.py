"""Liveness and readiness (no auth: Cloud Run and load balancers call these)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from stratus.manager.routes.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/health")
@router.get("/live")
def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", response_model=None)
def ready(services: ServicesDep) -> dict[str, str] | JSONResponse:
    try:
        services.ledger.positions(account="__readiness__")
    except Exception as error:  # any failure to reach the database means "not ready"
        return JSONResponse({"status": "unavailable", "detail": str(error)}, status_code=503)
    return {"status": "ready"}
