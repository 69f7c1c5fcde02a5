"""The manager's operations as its route table lists them, each with the access rule it
declares, so that tests cover every route, one added tomorrow included."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from stratus.manager.auth import Require
from stratus.manager.console.pages import PAGES

# Open by design: the probes Cloud Run and load balancers call, the API's documents, the
# console's page shells (they hold no data: each fetches its fragment with the token) and
# its static assets.
PROBES = {"/live", "/health", "/ready"}
SHELLS = {path for path, _name, _title in PAGES}
DOCUMENTS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/static"}
# Authorized in the handler, by the ?token= a browser can send (tests/integration/console).
STREAMS = {"/ws/positions", "/ws/activity"}

# A value for each path parameter (things conftest's Api.account() creates). A new
# parameter name fails the route table until it gets one here.
SAMPLES = {
    "account": "acct-1",
    "strategy": "trend",
    "asset": "BTC",
    "client_order_id": "stx-1",
    "request_id": "req-1",
    "token_id": "no-such-token",
    "topic": "signals",
}


@dataclass(frozen=True)
class Operation:
    method: str
    template: str  # /api/v1/accounts/{account}
    path: str  # with SAMPLES filled in
    rule: Require | None  # None: open
    route: APIRoute

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def operations(app: FastAPI) -> Iterator[Operation]:
    """Every operation of `app`; a route outside FastAPI's dependencies (so outside its
    authorization) must be one of the documents."""
    for context in iter_route_contexts(app.routes):
        route, template = context.original_route, context.path
        assert isinstance(template, str)
        if not isinstance(route, APIRoute):
            known = template in DOCUMENTS or template in STREAMS
            assert known, f"{template}: not an APIRoute, so never authorized"
            continue
        rules = [call for call in _calls(route.dependant) if isinstance(call, Require)]
        assert len(rules) <= 1, f"{template}: {len(rules)} access rules"
        path = re.sub(r"\{(\w+)\}", lambda name: SAMPLES[name.group(1)], template)
        for method in sorted(route.methods or ()):
            yield Operation(method, template, path, rules[0] if rules else None, route)


def _calls(dependant: Dependant) -> Iterator[object]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)
