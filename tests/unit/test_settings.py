"""Settings: the embedded default needs nothing; production refuses anything embedded."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stratus.config import Settings

PRODUCTION = {
    "STRATUS_ENVIRONMENT": "production",
    "STRATUS_GCP_PROJECT": "acme-trading",
    "STRATUS_BUS": "pubsub",
    "STRATUS_STATE": "firestore",
    "STRATUS_SECRETS": "secretmanager",
}


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("STRATUS_MANAGER_URL", raising=False)
    monkeypatch.delenv("STRATUS_CLOUDSQL_INSTANCE", raising=False)
    return monkeypatch


def test_the_embedded_default_needs_no_variables() -> None:
    settings = Settings()
    assert (settings.bus, settings.state, settings.exchange) == ("local", "sql", "paper")


def test_a_function_in_production_reaches_the_manager(production: pytest.MonkeyPatch) -> None:
    production.setenv("STRATUS_MANAGER_URL", "https://manager.example.run.app")
    assert Settings().environment == "production"


def test_the_manager_in_production_needs_a_real_database(production: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="STRATUS_MANAGER_URL"):
        Settings()
    production.setenv("STRATUS_DATABASE_URL", "postgresql://stratus@10.0.0.3/stratus")
    assert Settings().database_url.startswith("postgresql")


@pytest.mark.parametrize(("name", "value"), [("STRATUS_BUS", "local"), ("STRATUS_STATE", "sql")])
def test_production_refuses_embedded_backends(
    production: pytest.MonkeyPatch, name: str, value: str
) -> None:
    production.setenv("STRATUS_MANAGER_URL", "https://manager.example.run.app")
    production.setenv(name, value)
    with pytest.raises(ValidationError, match="embedded backends"):
        Settings()


def test_production_needs_a_project(production: pytest.MonkeyPatch) -> None:
    production.setenv("STRATUS_MANAGER_URL", "https://manager.example.run.app")
    production.setenv("STRATUS_GCP_PROJECT", "stratus-local")
    with pytest.raises(ValidationError, match="STRATUS_GCP_PROJECT"):
        Settings()


def test_only_service_accounts_map_to_manager_roles() -> None:
    """They may read decrypted exchange keys: a person's e-mail there is refused."""
    service = "fn-execute-order@p.iam.gserviceaccount.com"
    assert Settings(manager_service_accounts={service: "trader"}).manager_service_accounts
    with pytest.raises(ValidationError, match=r"not service account e-mails: alice@example\.com"):
        Settings(manager_service_accounts={service: "trader", "alice@example.com": "admin"})
