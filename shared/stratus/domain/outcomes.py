"""What became of each signal, from the messages about it (docs/console.md).

Facts arrive in any order and more than once, so a signal's status only ever moves to a
graver one: refused < accepted < rejected < dead_lettered. A later, milder fact (a
resent copy accepted after a refusal, say) never hides a graver one.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime

from stratus.domain.common import ExactDecimal, Identifier, Message


class SignalStatus(StrEnum):
    REFUSED = "refused"  # at the webhook, with the reason: it never reached `signals`
    ACCEPTED = "accepted"  # on `signals`; its orders tell how far it got
    REJECTED = "rejected"  # an order of it refused by risk or the exchange, with the reason
    DEAD_LETTERED = "dead_lettered"  # a message of it could never be processed, with the reason

    @property
    def gravity(self) -> int:
        return list(SignalStatus).index(self)


class SignalRefusal(Message):
    """An authenticated webhook request refused before it became a signal. Only what a
    verified sender sent is published: an unauthenticated flood writes nothing."""

    source: Identifier
    # What could be read of the body (None: not readable).
    signal_id: str | None = None
    account: str | None = None
    strategy: str | None = None
    symbol: str | None = None
    action: str | None = None
    reason: str
    detail: str
    body: str | None = None  # the start of what was sent, for the operator
    refused_at: AwareDatetime


class SignalOutcome(Message):
    """A signal's fate as the system of record holds it now (GET /api/v1/signals)."""

    signal_id: str
    # Unknown for a refusal whose body could not be read.
    source: str | None = None
    account: str | None = None
    strategy: str | None = None
    symbol: str | None = None
    action: str | None = None
    quantity: ExactDecimal | None = None  # None: sized by Stratus
    status: SignalStatus
    reason: str | None = None  # None while accepted
    detail: str | None = None
    received_at: AwareDatetime
    updated_at: AwareDatetime
