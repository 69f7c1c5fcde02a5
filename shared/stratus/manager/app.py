"""The manager's FastAPI application factory: the only writer of the system of record."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from stratus.adapters.sql.tokens import Role
from stratus.config import Environment, Settings
from stratus.manager import errors
from stratus.manager.auth import Authenticator
from stratus.manager.bodies import MAX_BODY_BYTES
from stratus.manager.routes import accounts, admin, funds, health, orders, portfolio, positions
from stratus.manager.store import Store
from stratus.service.bootstrap import services as default_services
from stratus.service.services import Services

log = logging.getLogger(__name__)

API = "/api/v1"
DEV_TOKEN_ID = "dev-admin"


def create_app(services: Services | None = None) -> FastAPI:
    """The manager API over `services` (the process-wide ones when not given)."""
    services = services or default_services()
    settings = services.settings
    store = Store.of(services)
    app = FastAPI(
        max_body_size=MAX_BODY_BYTES,
        title="Stratus manager",
        version="1.0.0",
        description="System of record: accounts, balances, positions, allocations, quotas, "
        "orders and fills, portfolio, audit log. Every /api/v1 route needs a bearer token.",
    )
    app.state.services = services
    app.state.store = store
    app.state.authenticator = Authenticator(store, settings)
    errors.install(app)
    app.add_middleware(errors.TraceMiddleware)
    app.include_router(health.router)
    for module in (accounts, positions, portfolio, funds, orders, admin):
        app.include_router(module.router, prefix=API)
    if services.settings.environment is Environment.LOCAL:
        _seed_dev_token(store, settings)
    else:
        store.accounts.vault.keyring()  # refuse to start without the master key
    return app


def _seed_dev_token(store: Store, settings: Settings) -> None:
    """Local development only: a known admin token, so `stratus up` works at once."""
    token = settings.manager_dev_token.get_secret_value()
    store.tokens.seed(DEV_TOKEN_ID, "local-dev-admin", Role.ADMIN, token)
    log.warning(
        "local development admin token (never used in production): "
        "curl -H 'Authorization: Bearer %s' http://127.0.0.1:8080%s/positions",
        token,
        API,
    )
