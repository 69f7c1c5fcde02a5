"""notify: what happened, told to people (docs/notifications.md).

It hears fills, order rejections, risk warnings, reconciliation reports, kill-switch
changes and every dead-letter topic, turns each message into one `Notice` and hands it
to the destinations that want it. Nothing here is on the trading path: a destination
that fails only delays its own message (retried, then dead-lettered by dispatch).
"""

from __future__ import annotations

import hashlib
import logging

from stratus.contracts import codec
from stratus.domain.errors import InvalidMessage
from stratus.domain.notifications import Notice, Severity
from stratus.domain.orders import Fill, OrderRejection
from stratus.domain.reconciliation import ReconciliationReport
from stratus.domain.risk import RiskWarning, TradingState, TradingStateChange
from stratus.ports import Envelope
from stratus.service.services import Services
from stratus.topology import topology

log = logging.getLogger(__name__)

FUNCTION = "notify"
DEAD_LETTER = topology().dead_letter_topic("")


def notify(services: Services, envelope: Envelope) -> None:
    notice = notice_of(envelope)
    if notice is not None and services.notifications is not None:
        services.notifications.tell(notice)


def notice_of(envelope: Envelope) -> Notice | None:
    """What a message tells people; None when it tells nothing (a clean reconciliation,
    notify's own dead letters, a message its real subscriber dead-letters anyway)."""
    if envelope.topic.endswith(DEAD_LETTER):
        return _dead_letter(envelope)
    try:
        message = codec.decode(envelope.topic, envelope.data)
    except InvalidMessage:
        return None  # its own subscriber dead-letters it, and that dead letter is told
    match message:
        case Fill():
            return Notice(
                kind="fill",
                severity=Severity.INFO,
                account=message.account,
                key=f"fill:{message.fill_id}",
                text=f"{message.account}/{message.strategy}: {message.side} "
                f"{message.quantity} {message.symbol} at {message.price} "
                f"(fee {message.fee} {message.fee_currency}, {message.liquidity})",
            )
        case OrderRejection():
            return Notice(
                kind="rejection",
                severity=Severity.WARNING,
                account=message.account,
                key=f"rejection:{message.request_id}",
                text=f"{message.account}/{message.strategy}: {message.side} "
                f"{message.quantity} {message.symbol} rejected, {message.reason}: "
                f"{message.detail}",
            )
        case RiskWarning():
            return Notice(
                kind="risk_warning",
                severity=Severity.WARNING,
                account=message.account,
                key=f"risk:{message.account}:{message.strategy}:{message.symbol}:"
                f"{message.kind}:{message.raised_at.isoformat()}",
                text=f"{message.account}/{message.strategy} {message.symbol}: "
                f"{message.kind}, {message.detail}",
            )
        case ReconciliationReport():
            return None if message.clean else _reconciliation(message)
        case TradingStateChange():
            severity = {
                TradingState.ACTIVE: Severity.INFO,
                TradingState.REDUCING: Severity.WARNING,
                TradingState.HALTED: Severity.CRITICAL,
            }[message.state]
            account = (
                message.scope.removeprefix("account:")
                if message.scope.startswith("account:")
                else ""
            )
            return Notice(
                kind="kill_switch",
                severity=severity,
                account=account,
                key=f"kill-switch:{message.scope}:{message.changed_at.isoformat()}",
                text=f"kill switch {message.scope}: {message.state} ({message.reason})",
            )
    log.warning("notify has nothing to say about %s", envelope.topic)
    return None


def _reconciliation(report: ReconciliationReport) -> Notice:
    found = [
        f"{len(report.drifts)} position drift(s) corrected ("
        + ", ".join(
            f"{d.symbol} {d.ledger_quantity} -> {d.exchange_quantity}" for d in report.drifts
        )
        + ")"
        if report.drifts
        else "",
        f"{len(report.lost_orders)} lost order(s)" if report.lost_orders else "",
        f"{len(report.unknown_orders)} order(s) unknown to Stratus"
        if report.unknown_orders
        else "",
    ]
    return Notice(
        kind="reconciliation",
        severity=Severity.WARNING,
        account=report.account,
        key=f"reconciliation:{report.report_id}",
        text=f"{report.account}: reconciliation found " + "; ".join(filter(None, found)),
    )


def _dead_letter(envelope: Envelope) -> Notice | None:
    attributes = envelope.attributes
    function = attributes.get("function", "")
    if function == FUNCTION:
        return None  # a notice that could not be told: telling it fails the same way
    source = envelope.topic.removesuffix(DEAD_LETTER)
    reason = attributes.get("reason") or "max_delivery_attempts"
    detail = attributes.get("detail") or "not acknowledged after every delivery attempt"
    digest = hashlib.sha256(envelope.data).hexdigest()[:24]
    return Notice(
        kind="dead_letter",
        severity=Severity.CRITICAL,
        account="",
        key=f"dead-letter:{source}:{function}:{digest}",
        text=f"dead letter on {source} ({function or 'unknown'}): {reason}: {detail[:300]}",
    )
