"""Every route of the manager, from its route table, against every kind of caller: no
token, a forged one, each role's API token and the executor's service identity."""

from __future__ import annotations

from fastapi import FastAPI

from stratus.adapters.sql.tokens import Role
from stratus.manager.auth import Require
from tests.integration.manager.conftest import Api, bearer
from tests.integration.manager.route_table import (
    DOCUMENTS,
    PROBES,
    SHELLS,
    Operation,
    operations,
)

# Caller -> (role, Google-authenticated service identity?)
CALLERS = {
    "reader": (Role.READER, False),
    "trader": (Role.TRADER, False),
    "admin": (Role.ADMIN, False),
    "service": (Role.TRADER, True),  # the functions' service account
}


def allowed(rule: Require, caller: str) -> bool:
    role, service = CALLERS[caller]
    return (service or not rule.service_only) and role.rank >= rule.role.rank


def needs(rule: Require) -> str:
    return "service" if rule.service_only else rule.role.value


def call(api: Api, operation: Operation, caller: str, **headers: str) -> tuple[int, dict[str, str]]:
    body: dict[str, str] | None = {} if operation.method in ("POST", "PUT", "PATCH") else None
    answer = api.call(operation.method, operation.path, caller, json=body, headers=headers)
    json_answer = answer.headers.get("content-type", "").startswith("application/json")
    payload = answer.json() if json_answer else {}  # the console's fragments are HTML
    return answer.status_code, payload


def test_every_route_checks_its_caller(api: Api) -> None:
    api.account()  # something for the allowed calls to find
    app = api.client.app
    assert isinstance(app, FastAPI)
    swept = list(operations(app))
    assert len(swept) > 45  # the whole API, not a route table gone quiet
    refusals: set[tuple[str, str]] = set()
    for operation in swept:
        if operation.rule is None:
            open_routes = PROBES | SHELLS | DOCUMENTS
            assert operation.template in open_routes, f"{operation} has no access rule"
            assert api.call(operation.method, operation.path, "").status_code in (200, 503)
            continue
        for token in ({}, {"Authorization": "Bearer stx_forged"}):
            status, payload = call(api, operation, "", **token)
            assert (status, payload.get("error")) == (401, "unauthenticated"), operation
        for caller in CALLERS:
            status, payload = call(api, operation, caller)
            if allowed(operation.rule, caller):
                assert status not in (401, 403), (operation, caller, payload)
                assert status < 500, (operation, caller, payload)
            else:
                assert (status, payload["error"]) == (403, "forbidden"), (operation, caller)
                assert payload["detail"], operation
                refusals.add((caller, needs(operation.rule)))
    # What the sweep names: a reader on a write, a trader on an admin route, an
    # admin on credentials; and the service identity is allowed there (not refused).
    assert {("reader", "trader"), ("trader", "admin"), ("admin", "service")} <= refusals
    assert ("service", "service") not in refusals


def test_credentials_answer_the_service_identity_only(api: Api) -> None:
    api.account()
    path = "/api/v1/accounts/acct-1/credentials"
    assert api.get(path, role="service").json()["secret"] == "secret-acct-1"
    for person in ("reader", "trader", "admin"):
        refused = api.get(path, role=person)
        assert refused.status_code == 403
        assert refused.json()["detail"] == "only the executor's service identity may do this"
    unknown_service = api.get(path, role="", headers=bearer(api.tokens["service"] + "x"))
    assert unknown_service.status_code == 401
