"""Cloud SQL wiring: STRATUS_CLOUDSQL_INSTANCE selects the connector, with IAM auth and
lazy refresh; a fake connector hands out connections to the local PostgreSQL."""

from __future__ import annotations

from typing import Any

import pg8000.dbapi
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from stratus.adapters.sql import cloudsql
from stratus.adapters.sql.db import configured_engine
from stratus.config import Settings


class FakeConnector:
    def __init__(self, target: str) -> None:
        self.target = make_url(target)
        self.calls: list[tuple[Any, ...]] = []

    def connect(self, instance: str, driver: str, **kwargs: Any) -> Any:
        self.calls.append((instance, driver, kwargs))
        return pg8000.dbapi.connect(
            user=self.target.username,
            host=self.target.host,
            port=self.target.port or 5432,
            database=self.target.database,
        )


def test_instance_selects_the_connector(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeConnector(postgres_url)
    monkeypatch.setattr(cloudsql, "connector_factory", lambda: fake)
    monkeypatch.setenv("STRATUS_CLOUDSQL_INSTANCE", "proj:europe-west1:stratus")
    monkeypatch.setenv("STRATUS_CLOUDSQL_USER", "manager@proj.iam")
    monkeypatch.setenv("STRATUS_CLOUDSQL_IP_TYPE", "PRIVATE")  # as terraform spells it
    engine = configured_engine(Settings(database_url="postgresql://ignored"))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()
    instance, driver, options = fake.calls[0]
    assert (instance, driver) == ("proj:europe-west1:stratus", "pg8000")
    assert options == {
        "user": "manager@proj.iam",
        "db": "stratus",
        "enable_iam_auth": True,
        "ip_type": "private",
    }


def test_instance_without_user_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRATUS_CLOUDSQL_INSTANCE", "proj:europe-west1:stratus")
    with pytest.raises(ValueError, match="STRATUS_CLOUDSQL_USER"):
        configured_engine(Settings(database_url="postgresql://ignored"))


def test_the_connector_refreshes_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[dict[str, Any]] = []

    class Recorder:
        def __init__(self, **options: Any) -> None:
            made.append(options)

    monkeypatch.setattr("google.cloud.sql.connector.Connector", Recorder)
    assert isinstance(cloudsql.connector_factory(), Recorder)
    assert made == [{"refresh_strategy": "lazy"}]
