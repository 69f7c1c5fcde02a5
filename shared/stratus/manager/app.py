"""The manager's FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from stratus.manager.routes import health, portfolio
from stratus.service.bootstrap import services as default_services
from stratus.service.services import Services


def create_app(services: Services | None = None) -> FastAPI:
    """The manager API over `services` (the process-wide ones when not given)."""
    app = FastAPI(
        title="Stratus manager",
        version="0.1.0",
        description="System of record: positions, fills, orders and portfolio.",
    )
    app.state.services = services or default_services()
    app.include_router(health.router)
    app.include_router(portfolio.router, prefix="/api/v1")
    return app
