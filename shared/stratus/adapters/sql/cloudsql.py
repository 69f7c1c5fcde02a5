"""Cloud SQL for PostgreSQL through cloud-sql-python-connector: IAM database auth, no
passwords, no proxy; the connector refreshes its certificate lazily (Cloud Run CPU is
throttled between requests, so a background refresh could stall)."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Engine, create_engine


class CloudSqlSettings(BaseSettings):
    """STRATUS_CLOUDSQL_INSTANCE selects Cloud SQL over STRATUS_DATABASE_URL."""

    model_config = SettingsConfigDict(env_prefix="STRATUS_CLOUDSQL_", extra="ignore")

    instance: str = Field(default="", description="instance connection name project:region:name")
    user: str = Field(
        default="", description="IAM user: the service account without .gserviceaccount.com"
    )
    database: str = "stratus"
    ip_type: str = Field(default="private", pattern="^(public|private|psc)$")
    pool_size: int = Field(default=5, gt=0)


def connector_factory() -> Any:
    from google.cloud.sql.connector import Connector

    return Connector(refresh_strategy="lazy")


def cloudsql_engine(settings: CloudSqlSettings, connector: Any = None) -> Engine:
    """An engine whose connections come from the connector (created once, reused)."""
    if not settings.user:
        raise ValueError("STRATUS_CLOUDSQL_USER is required with STRATUS_CLOUDSQL_INSTANCE")
    chosen = connector if connector is not None else connector_factory()

    def connect() -> Any:
        return chosen.connect(
            settings.instance,
            "pg8000",
            user=settings.user,
            db=settings.database,
            enable_iam_auth=True,
            ip_type=settings.ip_type,
        )

    return create_engine(
        "postgresql+pg8000://",
        creator=connect,
        pool_pre_ping=True,
        pool_size=settings.pool_size,
        max_overflow=2,
        pool_recycle=1800,
    )
