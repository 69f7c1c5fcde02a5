"""Property-based fuzzing of every operation in the OpenAPI document: whatever the input,
the manager answers 2xx/4xx (never a 5xx) and its 2xx bodies match the documented schema.

Runs on SQLite and on PostgreSQL (whose type and length limits are where a 500 would
hide); a bounded number of examples keeps it well under a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err, Ok
from schemathesis.specs.openapi.checks import response_schema_conformance

from stratus.adapters.clock import ManualClock
from stratus.adapters.paper.venues import PaperVenues
from stratus.config import Settings
from stratus.manager.app import create_app
from stratus.service.bootstrap import build
from tests.integration.manager.conftest import DEV_TOKEN, START, MasterKey, fill

EXAMPLES = 10
T = TypeVar("T")
E = TypeVar("E", bound=Exception)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def fuzzed_app(request: pytest.FixtureRequest) -> Iterator[FastAPI]:
    url = "sqlite://" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    clock = ManualClock(START)
    services = build(
        Settings(database_url=url), clock=clock, exchanges=PaperVenues(clock), secrets=MasterKey()
    )
    app = create_app(services)
    from fastapi.testclient import TestClient

    with TestClient(app) as client:  # something for the generated requests to find
        headers = {"Authorization": f"Bearer {DEV_TOKEN}"}
        body = {"account": "acct-1", "exchange_id": "paper", "api_key": "k", "secret": "s"}
        client.post("/api/v1/accounts", json=body, headers=headers)
        client.post("/api/v1/positions/update", json={"fills": [fill(1)]}, headers=headers)
    yield app
    services.ledger.database.engine.dispose()  # type: ignore[attr-defined]


def _operation(result: Ok[T] | Err[E]) -> T:
    """The operation, or raise the error schemathesis met reading it from the document."""
    if isinstance(result, Err):
        raise result.err()
    return result.ok()


def test_no_input_makes_a_server_error(fuzzed_app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)
    headers = {"Authorization": f"Bearer {DEV_TOKEN}"}
    checks = [not_a_server_error, response_schema_conformance]
    operations = [_operation(result) for result in schema.get_all_operations()]
    assert len(operations) > 30  # the whole API is documented

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=checks)

        fuzz()
