"""The one place that wires Stratus: settings in, Services out.

Cloud clients, engines and exchange objects are created here once and reused across
invocations of a warm instance; tests and the CLI pass fakes or the embedded backends
through the same function.
"""

from __future__ import annotations

import json
import threading
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from stratus.adapters import system_of_record
from stratus.adapters.apprise_messenger import AppriseMessenger
from stratus.adapters.clock import SystemClock
from stratus.adapters.local_bus import LocalBus
from stratus.config import Environment, Settings
from stratus.crypto import SECRET_NAME as MASTER_KEY
from stratus.crypto import dev_master_key
from stratus.observability import configure_logging
from stratus.ports import (
    AccountDirectory,
    Clock,
    EventBus,
    ExchangeCredentials,
    Exchanges,
    Ledger,
    MarketCache,
    PaperVenueStore,
    Quotas,
    Secrets,
    StateStore,
)
from stratus.service.dispatch import deliver
from stratus.service.notifications import Notifications
from stratus.service.services import Services
from stratus.topology import topology

if TYPE_CHECKING:
    from stratus.adapters.sql.db import Database

T = TypeVar("T")


def build(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    bus: EventBus | None = None,
    state: StateStore | None = None,
    ledger: Ledger | None = None,
    exchanges: Exchanges | None = None,
    secrets: Secrets | None = None,
    quotas: Quotas | None = None,
    accounts: AccountDirectory | None = None,
    **extra: Any,
) -> Services:
    """Services for `settings`; anything passed explicitly replaces the configured one."""
    settings = settings or Settings()
    clock = clock or SystemClock()
    database = None
    secrets = secrets or _secrets(settings)
    record = system_of_record.remote(settings) if None in (ledger, quotas, accounts) else None
    sql_state = state is None and settings.state == "sql"
    sql_record = record is None and None in (ledger, quotas, accounts)
    if sql_state or sql_record:  # functions on Firestore + the manager API never open SQL
        from stratus.adapters.sql.db import Database

        database = Database.configured(settings)
    if record is None and None in (ledger, quotas, accounts):
        record = system_of_record.local(_required(database), secrets, clock)
    if record is not None and "allocations" not in extra:
        extra["allocations"] = record.allocations
    services = Services(
        settings=settings,
        clock=clock,
        bus=bus or _bus(settings, clock),
        state=state or _state(settings, clock, database),
        ledger=ledger or _required(record).ledger,
        quotas=quotas or _required(record).quotas,
        accounts=accounts or _required(record).accounts,
        exchanges=exchanges
        or _exchanges(settings, clock, database, secrets, accounts or _accounts_of(record)),
        secrets=secrets,
        **extra,
    )
    if services.notifications is None:
        services.notifications = Notifications(
            secrets, services.state, AppriseMessenger(), settings.notify_batch_seconds
        )
    if isinstance(services.bus, LocalBus):
        services.bus.attach(partial(deliver, services))
    return services


def _required(value: T | None) -> T:
    assert value is not None
    return value


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
        defaults[MASTER_KEY] = dev_master_key(dev)
    return LocalSecrets(settings.secrets_dir, defaults)


def _exchanges(
    settings: Settings,
    clock: Clock,
    database: Database | None,
    secrets: Secrets,
    accounts: AccountDirectory | None,
) -> Exchanges:
    if settings.exchange == "ccxt":
        from stratus.adapters.ccxt_exchange import CcxtExchanges
        from stratus.adapters.exchange_accounts import SecretAccounts

        # The system of record's directory (decrypted keys), else the accounts secret.
        directory: ExchangeCredentials = accounts or SecretAccounts(secrets)
        return CcxtExchanges(settings, directory, _market_cache(settings, clock, database))
    from stratus.adapters.paper.venues import PaperVenues

    return PaperVenues(
        clock,
        store=_paper_venues(settings, clock, database),
        conditional_orders=settings.paper_conditional_orders,
    )


def _accounts_of(record: system_of_record.SystemOfRecord | None) -> AccountDirectory | None:
    return None if record is None else record.accounts


def _market_cache(settings: Settings, clock: Clock, database: Database | None) -> MarketCache:
    if settings.state == "firestore":
        from stratus.adapters.firestore_market_cache import FirestoreMarketCache

        return FirestoreMarketCache(settings.gcp_project, clock)
    from stratus.adapters.sql.db import Database
    from stratus.adapters.sql.market_cache import SqlMarketCache

    return SqlMarketCache(database or Database.configured(settings), clock)


def _paper_venues(settings: Settings, clock: Clock, database: Database | None) -> PaperVenueStore:
    """Beside the execution state, so that every process of a stack shares the venues."""
    if settings.state == "firestore":
        from stratus.adapters.firestore_paper_venues import FirestoreVenueStore

        return FirestoreVenueStore(settings.gcp_project)
    from stratus.adapters.sql.db import Database
    from stratus.adapters.sql.paper_venues import SqlVenueStore

    return SqlVenueStore(database or Database.configured(settings), clock)


_services: Services | None = None
_building = threading.Lock()


def services() -> Services:
    """The process-wide Services, built on first use (Cloud Functions' lazy global).
    Built once even when a cold instance's first requests arrive together on its
    threads: concurrent builds would race on clients, pools and embedded tables."""
    global _services
    if _services is None:
        with _building:
            if _services is None:
                settings = Settings()
                configure_logging(settings.json_logs, settings.gcp_project, settings.log_level)
                _services = build(settings)
    return _services
