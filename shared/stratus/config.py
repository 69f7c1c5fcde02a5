"""All configuration in one validated object, read from STRATUS_* environment variables.

The embedded default needs no variables at all; production refuses to start with a
missing or placeholder secret or with an embedded backend.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from stratus.adapters.tradingview import AlertMapping
from stratus.domain.risk import RiskLimits, TradingState
from stratus.domain.sizing import SizingPolicy

# Local development only: production rejects any setting that still holds this.
DEV_PLACEHOLDER = "stratus-dev-only-not-secret"
# The OAuth client of the gcloud CLI: the audience of `gcloud auth print-identity-token`
# for a person's own credentials (Cloud Run's IAM accepts those tokens too).
GCLOUD_CLIENT_ID = "32555940559.apps.googleusercontent.com"
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
ROLES = ("reader", "trader", "admin")  # stratus.adapters.sql.tokens.Role


class Environment(StrEnum):
    LOCAL = "local"
    PRODUCTION = "production"


class WatchPolicy(BaseModel):
    """How often the watcher (`stratus watch`, docs/live.md) does each of its jobs."""

    model_config = ConfigDict(frozen=True)

    mark_seconds: float = Field(default=1.0, gt=0, le=60, description="publish marks this often")
    order_seconds: float = Field(
        default=2.0, gt=0, le=60, description="list each account's working orders this often"
    )
    balance_seconds: float = Field(
        default=60.0, gt=0, le=3600, description="fetch each account's balances this often"
    )
    scope_seconds: float = Field(
        default=5.0, gt=0, le=300, description="look for new positions, orders and accounts"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STRATUS_", env_nested_delimiter="__", extra="ignore"
    )

    environment: Environment = Environment.LOCAL
    gcp_project: str = Field(default="stratus-local", description="Google Cloud project id")

    # Backends: the embedded default on the left of each comment.
    bus: str = Field(default="local", pattern="^(local|pubsub)$")
    state: str = Field(default="sql", pattern="^(sql|firestore)$")
    secrets: str = Field(default="env", pattern="^(env|secretmanager)$")
    exchange: str = Field(default="paper", pattern="^(paper|ccxt)$")
    paper_conditional_orders: bool = Field(
        default=True,
        description="paper venues keep protective exits as their own conditional orders; "
        "false: they have none, as some exchanges, and Stratus watches marks instead",
    )

    database_url: str = Field(
        default="sqlite:///.stratus/stratus.db",
        description="SQLAlchemy URL of the system of record (and of the embedded state)",
    )
    secrets_dir: str = Field(default="", description="directory of secret files (env backend)")

    # Where the system of record is: functions in production reach it through the manager's
    # API; the manager (and the embedded stack) open SQL: database_url, or Cloud SQL.
    manager_url: str = Field(
        default="", description="the manager's base URL; empty: open the SQL database directly"
    )
    manager_token: SecretStr = Field(
        default=SecretStr(""), description="static bearer token; empty: a Google ID token"
    )
    manager_audience: str = Field(
        default="",
        description="the manager's URL as ID token audience: functions mint tokens for it "
        "(empty: manager_url), the manager accepts only tokens for it (empty: none)",
    )
    manager_timeout_seconds: float = Field(default=10.0, gt=0)
    # The manager's side: who may call it, and its local development admin token.
    manager_service_accounts: dict[str, str] = Field(
        default_factory=dict,
        description="service account e-mail -> role (reader, trader or admin) for ID tokens; "
        "these identities, and no person, may read decrypted exchange keys",
    )
    manager_people: dict[str, str] = Field(
        default_factory=dict,
        description="person e-mail -> role (reader, trader or admin): who signs in with a "
        "Google ID token (`gcloud auth print-identity-token`); terraform's admins/traders/"
        "readers variables",
    )
    manager_people_audiences: list[str] = Field(
        default_factory=lambda: [GCLOUD_CLIENT_ID],
        description="audiences a person's ID token may carry besides manager_audience: "
        "gcloud's own OAuth client, which `gcloud auth print-identity-token` signs for",
    )
    manager_google_certs_url: str = Field(
        default=GOOGLE_CERTS_URL,
        description="Google's ID token signing keys (tests serve their own)",
    )
    manager_dev_token: SecretStr = Field(
        default=SecretStr(f"stx_{DEV_PLACEHOLDER}"),
        description="admin token the manager seeds in the local environment only",
    )
    cloudsql_instance: str = Field(
        default="",
        description="Cloud SQL connection name project:region:name; selects it over database_url",
    )
    cloudsql_user: str = Field(
        default="", description="IAM user: the service account without .gserviceaccount.com"
    )
    cloudsql_database: str = "stratus"
    cloudsql_ip_type: str = Field(default="private", pattern="^(public|private|psc)$")
    cloudsql_pool_size: int = Field(default=5, gt=0)
    webhook_dev_secret: SecretStr = SecretStr(DEV_PLACEHOLDER)

    dry_run: bool = False
    trading_state: TradingState = TradingState.ACTIVE
    max_event_age_seconds: int = Field(default=3600, gt=0)
    max_webhook_bytes: int = Field(default=16_384, gt=0)
    webhook_tolerance_seconds: int = Field(default=300, gt=0)
    webhook_rate_limit: int = Field(
        default=120, ge=0, description="signed requests per source and window; 0: no limit"
    )
    webhook_rate_window_seconds: int = Field(default=60, gt=0, le=3600)
    unrealized_loss_warning: float = Field(
        default=0.05, gt=0, description="warn when a position loses this fraction of notional"
    )
    json_logs: bool = False
    log_level: str = Field(
        default="INFO",
        pattern="^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$",
        description="least severity logged: DEBUG, INFO, WARNING, ERROR or CRITICAL",
    )
    notify_batch_seconds: float = Field(
        default=5.0,
        gt=0,
        le=30,
        description="notify gathers what arrives for a destination this long into one message",
    )

    # Exchange layer (ccxt adapter, reconciliation).
    exchange_api_url: str = Field(
        default="",
        description="send every ccxt REST call to this base URL (a local served exchange)",
    )
    exchange_timeout_ms: int = Field(default=10_000, gt=0)
    exchange_rate_limit: bool = Field(
        default=True,
        description="pace exchange requests within ccxt's per-second budget (off only in tests)",
    )
    market_cache_ttl_seconds: int = Field(default=86_400, gt=0)
    stale_order_seconds: int = Field(
        default=3600, gt=0, description="reconcile cancels working orders older than this"
    )
    delivery_window_seconds: int = Field(
        default=0,
        ge=0,
        description="how long after an order's last send attempt a copy of its message may "
        "still arrive; 0: derived from topology.yaml's retry policy (a stack whose "
        "subscriptions retry faster sets its own)",
    )

    tradingview: dict[str, AlertMapping] = Field(
        default_factory=dict, description="webhook source -> TradingView alert mapping"
    )
    sizing: SizingPolicy = SizingPolicy()
    risk: RiskLimits = RiskLimits()
    watch: WatchPolicy = WatchPolicy()

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("manager_service_accounts")
    @classmethod
    def _service_accounts_only(cls, value: dict[str, str]) -> dict[str, str]:
        # Service identities may read decrypted exchange keys: a person's e-mail here
        # would hand them out to a person.
        people = [email for email in value if not email.endswith(".gserviceaccount.com")]
        if people:
            raise ValueError(f"not service account e-mails: {', '.join(sorted(people))}")
        return value

    @field_validator("manager_service_accounts", "manager_people")
    @classmethod
    def _known_roles(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value.values()) - set(ROLES))
        if unknown:
            raise ValueError(f"unknown roles {', '.join(unknown)}: use {', '.join(ROLES)}")
        return value

    @field_validator("cloudsql_ip_type", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value  # the connector's IPTypes

    @model_validator(mode="after")
    def _production_is_real(self) -> Self:
        if self.environment is not Environment.PRODUCTION:
            return self
        embedded = {
            "bus": (self.bus, "pubsub"),
            "state": (self.state, "firestore"),
            "secrets": (self.secrets, "secretmanager"),
        }
        wrong = [
            f"{name}={have} (need {need})"
            for name, (have, need) in embedded.items()
            if have != need
        ]
        if wrong:
            raise ValueError("production cannot use embedded backends: " + ", ".join(wrong))
        if self.gcp_project == "stratus-local":
            raise ValueError("production needs STRATUS_GCP_PROJECT")
        # Functions reach the system of record through the manager; the manager itself
        # needs PostgreSQL or Cloud SQL.
        has_sql = self.cloudsql_instance or not self.database_url.startswith("sqlite")
        if not (self.manager_url or has_sql):
            raise ValueError(
                "production needs STRATUS_MANAGER_URL (functions) or a PostgreSQL "
                "STRATUS_DATABASE_URL / STRATUS_CLOUDSQL_INSTANCE (manager)"
            )
        return self
