"""Adapters from functions-framework's request objects to the core handlers.

functions/main.py stays a list of one-line targets over these.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from stratus.observability import TRACE_ATTRIBUTE, trace_from_header, traced
from stratus.service.bootstrap import services
from stratus.service.dispatch import deliver
from stratus.service.http import HttpResult, merge_headers
from stratus.service.services import Services

log = logging.getLogger(__name__)

HttpHandler = Callable[[Services, Mapping[str, str], bytes], HttpResult]


def run_cloud_event(function: str, event: Any) -> None:
    """A Pub/Sub CloudEvent (as Eventarc or a push subscription delivers it) to `function`."""
    message = (event.data or {}).get("message") or {}
    data = base64.b64decode(message.get("data") or b"")
    attributes: dict[str, str] = dict(message.get("attributes") or {})
    published = message.get("publishTime") or event.get("time")
    published_at = datetime.fromisoformat(published.replace("Z", "+00:00")) if published else None
    # The push path /projects/<p>/topics/<topic> becomes the source: a function that
    # hears several topics learns which one from it.
    topic = str(event.get("source") or "").rpartition("/topics/")[2] or None
    attempt = delivery_attempt(event)
    deliver(services(), function, data, attributes, published_at, attempt, topic=topic)


def delivery_attempt(event: Any) -> int | None:
    """Pub/Sub's deliveryAttempt (push bodies carry it when the subscription has a
    dead-letter policy). functions-framework drops it when it turns a push body into a
    CloudEvent, but calls the function while serving that request: read it there."""
    import flask  # functions-framework's own web framework, already imported

    attempt = (event.data or {}).get("deliveryAttempt")
    if attempt is None and flask.has_request_context():
        attempt = (flask.request.get_json(silent=True) or {}).get("deliveryAttempt")
    return int(attempt) if attempt else None


def run_http(handler: HttpHandler, request: Any) -> tuple[str, int, dict[str, str]]:
    """A Flask request to a framework-free handler, answered as JSON."""
    headers = merge_headers(request.headers.items())
    trace = trace_from_header(headers.get("x-cloud-trace-context")) or headers.get(TRACE_ATTRIBUTE)
    with traced(trace):
        result = handler(services(), headers, request.get_data(cache=False))
    return (
        json.dumps(result.body),
        result.status,
        {"Content-Type": "application/json", **result.headers},
    )
