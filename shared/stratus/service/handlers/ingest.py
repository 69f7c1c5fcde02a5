"""ingest_signal: the HTTPS webhook. Authenticates, validates, publishes to `signals`.

Authentication is HMAC-SHA256 over "<timestamp>.<raw body>" with the source's secret
(Secret Manager secret `webhook-secrets`: a JSON map source -> secret). Timestamps outside
the tolerance are refused, and within it each signature is claimed once in the state
store, so a captured request cannot be replayed. A sender retrying after an unclear
answer signs again with a fresh timestamp; the signal_id stays, so on_signal deduplicates.

Sources with a TradingView mapping (settings.tradingview) send alert JSON instead of a
Signal; the mapping translates it before the same validation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping

from stratus.contracts import codec
from stratus.domain.errors import InvalidMessage
from stratus.domain.signals import Signal
from stratus.observability import log_fields
from stratus.service.http import HttpResult, error
from stratus.service.services import Services

log = logging.getLogger(__name__)

SOURCE_HEADER = "X-Stratus-Source"
TIMESTAMP_HEADER = "X-Stratus-Timestamp"
SIGNATURE_HEADER = "X-Stratus-Signature"
WEBHOOK_SECRETS = "webhook-secrets"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value a sender must put on a request."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def ingest_signal(services: Services, headers: Mapping[str, str], body: bytes) -> HttpResult:
    settings = services.settings
    if len(body) > settings.max_webhook_bytes:
        return error(413, "body_too_large", f"limit is {settings.max_webhook_bytes} bytes")
    lowered = {key.lower(): value for key, value in headers.items()}
    source = lowered.get(SOURCE_HEADER.lower(), "")
    denied = _authenticate(services, source, lowered, body)
    if denied is not None:
        return denied
    try:
        signal = _signal(services, source, body)
    except InvalidMessage as problem:
        return error(400, problem.reason, problem.detail)
    nonce = f"webhook:{source}:{lowered[SIGNATURE_HEADER.lower()]}"
    if not services.state.claim(nonce, 2 * settings.webhook_tolerance_seconds):
        return error(409, "replayed", "this signed request was already received")
    services.publish("signals", signal)
    log.info("signal accepted", extra=log_fields(signal_id=signal.signal_id, source=source))
    return HttpResult(202, {"signal_id": signal.signal_id, "status": "accepted"})


def _signal(services: Services, source: str, body: bytes) -> Signal:
    try:
        record = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as problem:
        raise InvalidMessage("malformed_json", str(problem)) from problem
    if not isinstance(record, dict):
        raise InvalidMessage("malformed_json", "the body must be a JSON object")
    now = services.clock.now()
    mapping = services.settings.tradingview.get(source)
    if mapping is not None:
        record = mapping.to_signal(source, record, body, now)
    record.setdefault("source", source)
    record.setdefault("created_at", now.isoformat())
    if record["source"] != source:
        raise InvalidMessage(
            "source_mismatch", f"body source {record['source']!r} != header {source!r}"
        )
    signal = codec.parse(Signal, record)
    codec.encode("signals", signal)  # the topic's Avro schema, checked before the 202
    return signal


def _authenticate(
    services: Services, source: str, headers: Mapping[str, str], body: bytes
) -> HttpResult | None:
    timestamp = headers.get(TIMESTAMP_HEADER.lower(), "")
    signature = headers.get(SIGNATURE_HEADER.lower(), "")
    if not (source and timestamp and signature):
        return error(
            401,
            "unauthenticated",
            f"{SOURCE_HEADER}, {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required",
        )
    try:
        sent_at = float(timestamp)
    except ValueError:
        return error(401, "bad_timestamp", f"{TIMESTAMP_HEADER} must be Unix seconds")
    skew = abs(services.clock.now().timestamp() - sent_at)
    if skew > services.settings.webhook_tolerance_seconds:
        return error(401, "stale_timestamp", f"timestamp is {skew:.0f} s away from now")
    secret = json.loads(services.secrets.get(WEBHOOK_SECRETS)).get(source)
    if secret is None or not hmac.compare_digest(sign(secret, timestamp, body), signature):
        return error(401, "bad_signature", "signature does not match this source's secret")
    return None
