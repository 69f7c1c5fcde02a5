"""The recorder: what a person must know, derived from the messages already on the topics
into the system of record, so that no function writes more on its hot path.

- `signals`: the signal was accepted; `signal-refusals`: refused at the webhook;
  `order-rejections`: an order of it was rejected; any `<topic>-dead-letter`: a message
  could never be processed (kept, counted per topic, and charged to its signal). Each
  change of a signal's fate is published on `signal-outcomes` for the live console.
- `reconciliation-reports`: kept as they are.
- `marks` and `balances` (the watcher's, snapshot's and reconcile's): the latest price per
  symbol, and each account's wallet from its exchange.

Which topics: topology.yaml `manager.records` and every dead-letter topic. In production
each has a push subscription to POST /api/v1/pubsub/{topic}; locally the manager watches
the in-process bus. Every record is idempotent.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import datetime

from stratus.adapters.sql.funds import SqlFunds
from stratus.adapters.sql.outcomes import DeadLetter, Fact, SqlOutcomes
from stratus.adapters.sql.portfolio import SqlPortfolio
from stratus.contracts import codec
from stratus.domain.accounts import Balances
from stratus.domain.errors import InvalidMessage
from stratus.domain.market import Marks
from stratus.domain.orders import OrderRejection
from stratus.domain.outcomes import SignalRefusal, SignalStatus
from stratus.domain.reconciliation import ReconciliationReport
from stratus.domain.signals import Signal
from stratus.observability import log_fields
from stratus.ports import Envelope
from stratus.service.services import Services

log = logging.getLogger(__name__)

FACT_TOPICS = ("signals", "signal-refusals", "order-rejections")
REPORT_TOPIC = "reconciliation-reports"
DEAD_LETTER = "-dead-letter"
# Functions that only tell of what happened: their dead letters are no signal's fate.
OBSERVERS = ("notify",)
SIGNAL_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}", re.ASCII)  # the Identifier grammar


class Recorder:
    def __init__(
        self, services: Services, outcomes: SqlOutcomes, portfolio: SqlPortfolio, funds: SqlFunds
    ) -> None:
        self._services = services
        self._outcomes = outcomes
        self._portfolio = portfolio
        self._funds = funds

    def __call__(self, envelope: Envelope) -> None:
        self.record(envelope)

    def record(self, envelope: Envelope) -> None:
        """Record one message; raises only when it may succeed later (the database)."""
        topic = envelope.topic
        try:
            if topic.endswith(DEAD_LETTER):
                self._dead_letter(envelope)
            elif topic == REPORT_TOPIC:
                report = codec.decode(topic, envelope.data)
                assert isinstance(report, ReconciliationReport)
                self._outcomes.report(report)
            elif topic in FACT_TOPICS:
                self._learn(_fact(codec.decode(topic, envelope.data), envelope.published_at))
            elif topic == "marks":
                marks = codec.decode(topic, envelope.data)
                assert isinstance(marks, Marks)
                self._portfolio.record_marks(marks)
            elif topic == "balances":
                wallet = codec.decode(topic, envelope.data)
                assert isinstance(wallet, Balances)
                if not self._funds.record_balances(wallet):
                    log.warning("balances of an unknown account %s ignored", wallet.account)
            else:
                log.warning("recorder ignores topic %s", topic)
        except InvalidMessage as problem:
            # Its subscriber dead-letters it with this reason, and that dead letter comes
            # here: retrying or dead-lettering it twice would count it twice.
            fields = log_fields(topic=topic, reason=problem.reason, detail=problem.detail)
            log.warning("unreadable message left to its subscriber", extra=fields)

    def _learn(self, fact: Fact) -> None:
        outcome = self._outcomes.learn(fact)
        self._services.publish("signal-outcomes", outcome)

    def _dead_letter(self, envelope: Envelope) -> None:
        attributes = envelope.attributes
        source = envelope.topic.removesuffix(DEAD_LETTER)
        signal_id = _signal_id(envelope.data)
        reason = attributes.get("reason") or "max_delivery_attempts"
        detail = attributes.get("detail") or _delivery_detail(attributes)
        letter = DeadLetter(
            topic=source,
            message_id=envelope.message_id,
            function=attributes.get("function") or _subscriber(attributes),
            reason=reason,
            detail=detail,
            signal_id=signal_id,
            data=envelope.data.decode("utf-8", errors="replace"),
            dead_lettered_at=envelope.published_at,
        )
        if not self._outcomes.dead_letter(letter):  # a repeat
            return
        log.info("dead letter recorded", extra=log_fields(topic=source, reason=reason))
        observed = attributes.get("function") in OBSERVERS
        if signal_id is not None and source != "signal-outcomes" and not observed:
            self._learn(
                Fact(signal_id, SignalStatus.DEAD_LETTERED, envelope.published_at, reason, detail)
            )


def _fact(message: object, at: datetime) -> Fact:
    if isinstance(message, Signal):
        return Fact(
            message.signal_id,
            SignalStatus.ACCEPTED,
            message.created_at,
            source=message.source,
            account=message.account,
            strategy=message.strategy,
            symbol=message.symbol,
            action=message.action.value,
            quantity=message.quantity,
        )
    if isinstance(message, SignalRefusal):
        return Fact(
            message.signal_id or f"refused-{message.refused_at:%Y%m%dT%H%M%S%f}-{message.source}",
            SignalStatus.REFUSED,
            message.refused_at,
            message.reason,
            message.detail,
            source=message.source,
            account=message.account,
            strategy=message.strategy,
            symbol=message.symbol,
            action=message.action,
        )
    assert isinstance(message, OrderRejection)
    return Fact(
        message.signal_id,
        SignalStatus.REJECTED,
        message.rejected_at,
        message.reason,
        f"{message.side} {message.quantity} {message.symbol} ({message.request_id}): "
        f"{message.detail}",
        account=message.account,
        strategy=message.strategy,
        symbol=message.symbol,
    )


def _signal_id(data: bytes) -> str | None:
    """The signal a dead letter belongs to, when its message names one."""
    try:
        record = json.loads(data)
    except ValueError:
        return None
    found = record.get("signal_id") if isinstance(record, dict) else None
    return found if isinstance(found, str) and SIGNAL_ID.fullmatch(found) else None


def _subscriber(attributes: Mapping[str, str]) -> str:
    # Pub/Sub's own dead-lettering names the subscription ("<topic>-to-<function>").
    subscription = attributes.get("CloudPubSubDeadLetterSourceSubscription", "")
    return subscription.rpartition("-to-")[2] or "unknown"


def _delivery_detail(attributes: Mapping[str, str]) -> str:
    attempts = attributes.get("CloudPubSubDeadLetterSourceDeliveryCount", "?")
    return f"not acknowledged after {attempts} delivery attempts"
