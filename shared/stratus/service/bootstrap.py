"""The one place that wires Stratus: settings in, Services out.

Cloud clients, engines and exchange objects are created here once and reused across
invocations of a warm instance; tests and the CLI pass fakes or the embedded backends
through the same function.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from stratus.adapters.clock import SystemClock
from stratus.adapters.local_bus import LocalBus
from stratus.adapters.sql.db import Database
from stratus.adapters.sql.ledger import SqlLedger
from stratus.config import Environment, Settings
from stratus.observability import configure_logging
from stratus.ports import Clock, EventBus, Exchanges, Ledger, Secrets, StateStore
from stratus.service.dispatch import deliver
from stratus.service.services import Services
from stratus.topology import topology


def build(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    bus: EventBus | None = None,
    state: StateStore | None = None,
    ledger: Ledger | None = None,
    exchanges: Exchanges | None = None,
    secrets: Secrets | None = None,
    **extra: Any,
) -> Services:
    """Services for `settings`; anything passed explicitly replaces the configured one."""
    settings = settings or Settings()
    clock = clock or SystemClock()
    database = None
    if state is None or ledger is None:
        database = Database.from_url(settings.database_url)
    services = Services(
        settings=settings,
        clock=clock,
        bus=bus or _bus(settings, clock),
        state=state or _state(settings, clock, database),
        ledger=ledger or SqlLedger(_required(database)),
        exchanges=exchanges or _exchanges(settings, clock),
        secrets=secrets or _secrets(settings),
        **extra,
    )
    if isinstance(services.bus, LocalBus):
        services.bus.attach(partial(deliver, services))
    return services


def _required(database: Database | None) -> Database:
    assert database is not None
    return database


def _bus(settings: Settings, clock: Clock) -> EventBus:
    if settings.bus == "pubsub":
        from stratus.adapters.pubsub_bus import PubSubBus

        return PubSubBus(settings.gcp_project)
    return LocalBus(topology(), clock)


def _state(settings: Settings, clock: Clock, database: Database | None) -> StateStore:
    if settings.state == "firestore":
        from stratus.adapters.firestore_state import FirestoreStateStore

        return FirestoreStateStore(settings.gcp_project, clock)
    from stratus.adapters.sql.state import SqlStateStore

    return SqlStateStore(_required(database), clock)


def _secrets(settings: Settings) -> Secrets:
    if settings.secrets == "secretmanager":
        from stratus.adapters.secrets import SecretManagerSecrets

        return SecretManagerSecrets(settings.gcp_project)
    from stratus.adapters.secrets import LocalSecrets

    defaults: dict[str, str] = {}
    if settings.environment is Environment.LOCAL:
        dev = settings.webhook_dev_secret.get_secret_value()
        defaults["webhook-secrets"] = json.dumps({"demo": dev})
    return LocalSecrets(settings.secrets_dir, defaults)


def _exchanges(settings: Settings, clock: Clock) -> Exchanges:
    if settings.exchange == "ccxt":
        from stratus.adapters.ccxt_exchange import CcxtExchanges

        return CcxtExchanges(settings)
    from stratus.adapters.paper.venues import PaperVenues

    return PaperVenues(clock)


_services: Services | None = None


def services() -> Services:
    """The process-wide Services, built on first use (Cloud Functions' lazy global)."""
    global _services
    if _services is None:
        settings = Settings()
        configure_logging(settings.json_logs, settings.gcp_project)
        _services = build(settings)
    return _services
