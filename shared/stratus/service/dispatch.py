"""Delivery of one Pub/Sub message to its handler: the rules every function shares.

Raising means "retry" (Pub/Sub redelivers with backoff); returning means "done". A
message that can never succeed is acknowledged and published to its topic's dead-letter
topic with the reason, so it neither retries forever nor disappears.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from stratus.contracts import codec
from stratus.domain.errors import PermanentError
from stratus.observability import TRACE_ATTRIBUTE, log_fields, traced
from stratus.service.handlers import execution, positions, risk, signals
from stratus.service.services import Services
from stratus.topology import topology

log = logging.getLogger(__name__)

Handler = Callable[[Services, Any], None]

HANDLERS: dict[str, Handler] = {
    "on_signal": signals.on_signal,
    "check_risk": risk.check_risk,
    "execute_order": execution.execute_order,
    "update_position": positions.update_position,
}
# Decisions go stale; facts do not: a fill is applied however late it arrives.
NEVER_STALE = {"update_position"}
# What a stale message still needs done (an approved order must not stay in flight).
ON_STALE: dict[str, Handler] = {"execute_order": execution.expire}


def deliver(
    services: Services,
    function: str,
    data: bytes,
    attributes: Mapping[str, str],
    published_at: datetime | None,
) -> None:
    """Decode, check age, run the function's handler; dead-letter what can never work."""
    topic = topology().functions[function].trigger.topic
    if topic is None:
        raise ValueError(f"{function} is not triggered by a topic")
    with traced(attributes.get(TRACE_ATTRIBUTE)):
        try:
            message = codec.decode(topic, data)
            if _stale(services, function, published_at):
                if function in ON_STALE:
                    ON_STALE[function](services, message)
                return
            HANDLERS[function](services, message)
        except PermanentError as error:
            dead_letter(services, topic, data, attributes, error, function)


def _stale(services: Services, function: str, published_at: datetime | None) -> bool:
    if published_at is None or function in NEVER_STALE:
        return False
    age = (services.clock.now() - published_at).total_seconds()
    if age <= services.settings.max_event_age_seconds:
        return False
    log.warning("dropping stale event", extra=log_fields(function=function, age_s=age))
    return True


def dead_letter(
    services: Services,
    topic: str,
    data: bytes,
    attributes: Mapping[str, str],
    error: PermanentError,
    function: str,
) -> None:
    log.error(
        "dead-lettering message",
        extra=log_fields(function=function, reason=error.reason, detail=error.detail),
    )
    services.bus.publish(
        topology().dead_letter_topic(topic),
        data,
        {**attributes, "reason": error.reason, "detail": error.detail, "function": function},
    )
