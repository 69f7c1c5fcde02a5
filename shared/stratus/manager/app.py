"""The manager's FastAPI application factory: the only writer of the system of record."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from stratus.adapters.local_bus import LocalBus
from stratus.adapters.sql.tokens import Role
from stratus.config import Environment, Settings
from stratus.manager import errors
from stratus.manager.auth import Authenticator
from stratus.manager.bodies import MAX_BODY_BYTES, StrictJsonRoute
from stratus.manager.console import pages
from stratus.manager.kept import Kept
from stratus.manager.live import Hub
from stratus.manager.recorder import Recorder
from stratus.manager.routes import (
    accounts,
    admin,
    analytics,
    control,
    funds,
    health,
    live,
    me,
    orders,
    outcomes,
    portfolio,
    positions,
)
from stratus.manager.store import Store
from stratus.ports import Feed
from stratus.service.bootstrap import services as default_services
from stratus.service.services import Services
from stratus.topology import topology

log = logging.getLogger(__name__)

API = "/api/v1"
DEV_TOKEN_ID = "dev-admin"


def create_app(services: Services | None = None) -> FastAPI:
    """The manager API over `services` (the process-wide ones when not given)."""
    services = services or default_services()
    settings = services.settings
    store = Store.of(services)
    hub = Hub(_feed(services))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        hub.close()  # this instance's own subscriptions go with it

    app = FastAPI(
        max_body_size=MAX_BODY_BYTES,
        title="Stratus manager",
        version="1.0.0",
        description="System of record: accounts, balances, positions, allocations, quotas, "
        "orders and fills, portfolio, audit log. Every /api/v1 route needs a bearer token. "
        "The operator console is at /.",
        docs_url=None,  # served below from local assets: no CDN, works offline
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.store = store
    app.state.kept = Kept()  # rendered pages of positions (stratus.manager.kept)
    app.state.authenticator = Authenticator(store, settings)
    app.state.hub = hub
    app.state.recorder = recorder = Recorder(services, store.outcomes, store.portfolio, store.funds)
    if isinstance(services.bus, LocalBus):  # else Pub/Sub pushes to /api/v1/pubsub/{topic}
        services.bus.watch("manager", topology().recorded(), recorder)
    errors.install(app)
    app.add_middleware(errors.TraceMiddleware)
    app.include_router(health.router)
    for module in (
        accounts,
        positions,
        portfolio,
        analytics,
        funds,
        orders,
        control,
        outcomes,
        admin,
        me,
    ):
        app.include_router(module.router, prefix=API)
    app.include_router(live.router)
    app.include_router(pages.router)
    app.add_middleware(pages.OwnOriginOnly)
    app.mount("/static", pages.static, name="static")
    _offline_docs(app)
    if services.settings.environment is Environment.LOCAL:
        _seed_dev_token(store, settings)
    else:
        store.accounts.vault.keyring()  # refuse to start without the master key
    return app


def _feed(services: Services) -> Feed:
    """Where the console's live streams come from: the in-process bus, or this
    instance's own Pub/Sub subscriptions."""
    if isinstance(services.bus, LocalBus):
        return services.bus
    from stratus.adapters.pubsub_feed import PubSubFeed

    return PubSubFeed(services.settings.gcp_project)


def _offline_docs(app: FastAPI) -> None:
    """Swagger UI at /docs and ReDoc at /redoc from the vendored assets."""
    vendor = "/static/vendor"
    docs = APIRouter(include_in_schema=False, route_class=StrictJsonRoute)

    @docs.get("/docs")
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{vendor}/swagger-ui-bundle.js",
            swagger_css_url=f"{vendor}/swagger-ui.css",
            swagger_favicon_url="data:,",
            swagger_ui_parameters={"validatorUrl": None},  # no badge from swagger.io
        )

    @docs.get("/redoc")
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{vendor}/redoc.standalone.js",
            redoc_favicon_url="data:,",
            with_google_fonts=False,
        )

    app.include_router(docs)


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
