"""Delivery of one Pub/Sub message to its handler: the rules every function shares.

Raising means "retry" (Pub/Sub redelivers with backoff); returning means "done". A
message that can never succeed is acknowledged and published to its topic's dead-letter
topic with `reason`, `detail`, `function` and the `delivery_attempt` it failed on (when
Pub/Sub passes one), so it neither retries forever nor disappears: on a PermanentError,
and on the last delivery attempt Pub/Sub makes (its `deliveryAttempt`) when the handler
still fails, since Pub/Sub would otherwise forward it without a reason. What the message
owns (an order) is finished with that reason first, and its copies are dead-lettered once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from stratus.contracts import codec
from stratus.domain.errors import ConcurrentUpdate, PermanentError
from stratus.domain.orders import Fill, OrderRequest
from stratus.domain.signals import Signal
from stratus.observability import TRACE_ATTRIBUTE, log_fields, traced
from stratus.ports import Envelope
from stratus.service.handlers import control, execution, notify, positions, risk, signals
from stratus.service.services import Services
from stratus.topology import topology

log = logging.getLogger(__name__)

Handler = Callable[[Services, Any], None]
GAVE_UP = "max_delivery_attempts"

HANDLERS: dict[str, Handler] = {
    "on_signal": signals.on_signal,
    "check_risk": risk.check_risk,
    "execute_order": execution.execute_order,
    "update_position": positions.update_position,
    "control": control.control,
}
# Functions that hear many topics (dead-letter topics too) and read what they hear
# themselves, from the whole envelope.
LISTENERS: dict[str, Callable[[Services, Envelope], None]] = {"notify": notify.notify}
# Decisions go stale; facts do not: a fill is applied however late it arrives.
NEVER_STALE = {"update_position", "notify"}
# What a stale message still needs done (an approved order must not stay in flight).
ON_STALE: dict[str, Handler] = {"execute_order": execution.expire}
# What a message about to be dead-lettered owns, finished with the reason (message,
# reason, detail); True when its outcome is in hand after all (its order exists or is
# being placed), and no dead letter is due.
ON_DEAD_LETTER: dict[str, Callable[[Services, Any, str, str], bool]] = {
    "check_risk": risk.abandon,
    "execute_order": execution.abandon,
}
# The field naming a message across its copies and republications: its dead-letter key.
IDENTITY: dict[type, str] = {Signal: "signal_id", OrderRequest: "request_id", Fill: "fill_id"}


def deliver(
    services: Services,
    function: str,
    data: bytes,
    attributes: Mapping[str, str],
    published_at: datetime | None,
    attempt: int | None = None,
    topic: str | None = None,
) -> None:
    """Decode, check age, run the function's handler; dead-letter what can never work.

    `attempt` is Pub/Sub's deliveryAttempt (None when the subscription has no
    dead-letter policy): on the last one, a handler still failing gives up explicitly.
    `topic` is where the message came from; a function of one topic knows it."""
    topic = topology().functions[function].trigger.topic or topic
    if topic is None:
        raise ValueError(f"{function} needs the topic its message came from")
    with traced(attributes.get(TRACE_ATTRIBUTE)):
        message = None
        try:
            if function in LISTENERS:
                when = published_at or services.clock.now()
                LISTENERS[function](services, Envelope("", topic, data, attributes, when))
                return
            message = codec.decode(topic, data)
            if _stale(services, function, published_at):
                if function in ON_STALE:
                    ON_STALE[function](services, message)
                return
            HANDLERS[function](services, message)
        except PermanentError as error:
            dead_letter(services, function, topic, data, attributes, message, error, attempt)
        except Exception as error:
            if attempt is None or attempt < topology().retry.max_delivery_attempts:
                raise
            given_up = PermanentError(GAVE_UP, f"attempt {attempt}: {error!r}")
            dead_letter(services, function, topic, data, attributes, message, given_up, attempt)


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
    function: str,
    topic: str,
    data: bytes,
    attributes: Mapping[str, str],
    message: Any,
    error: PermanentError,
    attempt: int | None,
) -> None:
    """Acknowledge a message that can never succeed: finish what it owns with the reason,
    then publish it to the dead-letter topic, once however many copies fail (claimed
    under its identity first; a copy finding the claim unfinished retries later). The
    attempt it failed on tells a refusal at first sight from a give-up after retries.
    Each subscriber of a topic gives up on its own (a fill notify could not tell of is
    still applied)."""
    fields = log_fields(function=function, reason=error.reason, detail=error.detail)
    if message is not None and function in ON_DEAD_LETTER:
        try:
            if ON_DEAD_LETTER[function](services, message, error.reason, error.detail):
                log.warning("gave up on a message whose order stands", extra=fields)
                return
        except Exception:  # what it could not finish stays owed in durable state: the sweep's
            log.exception("could not finish what a dead letter owns", extra=fields)
    key = f"dead-letter:{topic}:{function}:{_identity(message, data)}"
    retention = int(topology().retry.retention.total_seconds())
    if not services.state.claim(key, retention):
        if services.state.is_done(key):
            log.info("copy of a dead letter dropped", extra=fields)
            return
        raise ConcurrentUpdate(f"{key} is being dead-lettered by another copy")
    log.error("dead-lettering message", extra=fields)
    why = {"reason": error.reason, "detail": error.detail, "function": function}
    if attempt is not None:
        why["delivery_attempt"] = str(attempt)
    services.bus.publish(_dead_letter_topic(topic), data, {**attributes, **why})
    services.state.mark_done(key)


def _dead_letter_topic(topic: str) -> str:
    """Where a message of `topic` goes when it can never succeed; a dead letter that
    cannot be told of stays where it is (its notice is the dead letter again)."""
    suffix = topology().dead_letter_topic("")
    return topic if topic.endswith(suffix) else topology().dead_letter_topic(topic)


def _identity(message: Any, data: bytes) -> str:
    field = IDENTITY.get(type(message))
    if field is None:  # undecodable: its bytes are all there is
        return "sha256:" + hashlib.sha256(data).hexdigest()
    return str(getattr(message, field))
