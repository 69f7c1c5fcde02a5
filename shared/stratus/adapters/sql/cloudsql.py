"""Cloud SQL for PostgreSQL through cloud-sql-python-connector: IAM database auth, no
passwords, no proxy; the connector refreshes its certificate lazily (Cloud Run CPU is
throttled between requests, so a background refresh could stall)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine

from stratus.adapters.sql.driver import tuned
from stratus.config import Settings


def connector_factory() -> Any:
    from google.cloud.sql.connector import Connector

    return Connector(refresh_strategy="lazy")


def cloudsql_engine(settings: Settings, connector: Any = None) -> Engine:
    """An engine whose connections come from the connector (created once, reused)."""
    if not settings.cloudsql_user:
        raise ValueError("STRATUS_CLOUDSQL_USER is required with STRATUS_CLOUDSQL_INSTANCE")
    chosen = connector if connector is not None else connector_factory()

    def connect() -> Any:
        return chosen.connect(
            settings.cloudsql_instance,
            "pg8000",
            user=settings.cloudsql_user,
            db=settings.cloudsql_database,
            enable_iam_auth=True,
            ip_type=settings.cloudsql_ip_type,
        )

    return tuned(
        create_engine(
            "postgresql+pg8000://",
            creator=connect,
            pool_pre_ping=True,
            pool_size=settings.cloudsql_pool_size,
            max_overflow=2,
            pool_recycle=1800,
        )
    )
