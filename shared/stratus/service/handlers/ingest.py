"""ingest_signal: the HTTPS webhook. Authenticates, validates, publishes to `signals`.

Authentication is HMAC-SHA256 over "<timestamp>.<raw body>" with the source's secret
(Secret Manager secret `webhook-secrets`: a JSON map source -> secret). Timestamps outside
the tolerance are refused, and within it each signature is claimed once in the state
store, so a captured request cannot be replayed. A sender retrying after an unclear
answer signs again with a fresh timestamp; the signal_id stays, so on_signal deduplicates.

Everything a request carries is outside input: headers must match their exact ASCII
form before anything uses them, the body is strict JSON (stratus.contracts.json_text)
and every refusal is a 4xx with a reason. In order, with what each step costs:
413 size; 401 headers, timestamp, signature (no state touched); 429 the source's rate
limit (one counter write); 400 the body and the signal (no state); 400 the account (one
read of the system of record); 409 a replay (one claim write); 202 published. A 400 is
also published on `signal-refusals` (below).

Sources with a TradingView mapping (settings.tradingview) send alert JSON instead of a
Signal; the mapping translates it before the same validation.

A request that passes authentication but is refused is published on `signal-refusals`
with the reason, for the system of record; an unauthenticated one is answered and
forgotten, so a flood of them costs no write.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import replace

from stratus.contracts import codec, json_text
from stratus.domain.errors import InvalidMessage, PermanentError
from stratus.domain.outcomes import SignalRefusal
from stratus.domain.records import Unavailable
from stratus.domain.signals import Signal
from stratus.observability import log_fields
from stratus.service.handlers.signals import check_account
from stratus.service.http import HttpResult, error
from stratus.service.services import Services

log = logging.getLogger(__name__)

SOURCE_HEADER = "X-Stratus-Source"
TIMESTAMP_HEADER = "X-Stratus-Timestamp"
SIGNATURE_HEADER = "X-Stratus-Signature"
WEBHOOK_SECRETS = "webhook-secrets"
BODY_EXCERPT = 500  # bytes of a refused body kept for the operator
ID = re.compile(r"[A-Za-z0-9._:/\-]{1,128}")  # what a refusal may quote as an id or symbol

# The only forms the headers may take. Whole Unix seconds: no sign, fraction, exponent,
# NaN or spaces, so the freshness check below always compares two real numbers.
SOURCE_FORM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}", re.ASCII)
TIMESTAMP_FORM = re.compile(r"[0-9]{1,12}", re.ASCII)
SIGNATURE_FORM = re.compile(r"sha256=[0-9a-f]{64}", re.ASCII)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value a sender must put on a request."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def signed_headers(source: str, secret: str, timestamp: str, body: bytes) -> dict[str, str]:
    """The headers a sender puts on a request (the demo, the tests)."""
    return {
        SOURCE_HEADER: source,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }


def ingest_signal(services: Services, headers: Mapping[str, str], body: bytes) -> HttpResult:
    settings = services.settings
    if len(body) > settings.max_webhook_bytes:
        return error(413, "body_too_large", f"limit is {settings.max_webhook_bytes} bytes")
    lowered = {key.lower(): value for key, value in headers.items()}
    denied = _authenticate(services, lowered, body)
    if denied is not None:
        return denied
    source, signature = lowered[SOURCE_HEADER.lower()], lowered[SIGNATURE_HEADER.lower()]
    limited = _rate_limit(services, source)
    if limited is not None:
        return limited
    try:
        signal = _signal(services, source, body)
        _check_account(services, signal)
    except PermanentError as problem:
        _refused(services, source, body, problem)
        return error(400, problem.reason, problem.detail)
    nonce = f"webhook:{source}:{signature}"
    if not services.state.claim(nonce, 2 * settings.webhook_tolerance_seconds):
        return error(409, "replayed", "this signed request was already received")
    services.publish("signals", signal)
    log.info("signal accepted", extra=log_fields(signal_id=signal.signal_id, source=source))
    return HttpResult(202, {"signal_id": signal.signal_id, "status": "accepted"})


def _signal(services: Services, source: str, body: bytes) -> Signal:
    record = json_text.loads(body)
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
            "source_mismatch", f"body source {str(record['source'])[:64]!r} != header {source!r}"
        )
    signal = codec.parse(Signal, record)
    codec.encode("signals", signal)  # the topic's Avro schema, checked before the 202
    return signal


def _check_account(services: Services, signal: Signal) -> None:
    """Refuse what can be known here; on_signal checks again in any case (a signal may be
    published straight to the topic), so while the system of record cannot be reached
    the signal is accepted, and waits on the topic for on_signal to decide."""
    try:
        check_account(services, signal.account)
    except Unavailable as problem:
        log.warning(
            "account not checked: the system of record is unreachable",
            extra=log_fields(signal_id=signal.signal_id, detail=str(problem)),
        )


def _refused(services: Services, source: str, body: bytes, problem: PermanentError) -> None:
    try:
        record = json_text.loads(body)
    except InvalidMessage:
        record = None
    readable = record if isinstance(record, dict) else {}

    def field(name: str) -> str | None:
        value = readable.get(name)
        return value if isinstance(value, str) and ID.fullmatch(value) else None

    refusal = SignalRefusal(
        source=source,
        signal_id=field("signal_id"),
        account=field("account"),
        strategy=field("strategy"),
        symbol=field("symbol"),
        action=field("action"),
        reason=problem.reason,
        detail=problem.detail,
        body=body[:BODY_EXCERPT].decode("utf-8", errors="replace"),
        refused_at=services.clock.now(),
    )
    try:
        services.publish("signal-refusals", refusal)
    except Exception:  # the sender still gets its answer; the log keeps the refusal
        log.exception("refusal not published", extra=log_fields(source=source))


def _authenticate(services: Services, headers: Mapping[str, str], body: bytes) -> HttpResult | None:
    source = headers.get(SOURCE_HEADER.lower(), "")
    timestamp = headers.get(TIMESTAMP_HEADER.lower(), "")
    signature = headers.get(SIGNATURE_HEADER.lower(), "")
    if not (source and timestamp and signature):
        return error(
            401,
            "unauthenticated",
            f"{SOURCE_HEADER}, {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required",
        )
    if not SOURCE_FORM.fullmatch(source):
        return error(401, "bad_source", f"{SOURCE_HEADER} is 1-64 of A-Z a-z 0-9 . _ -")
    if not TIMESTAMP_FORM.fullmatch(timestamp):
        return error(401, "bad_timestamp", f"{TIMESTAMP_HEADER} must be whole Unix seconds")
    skew = abs(services.clock.now().timestamp() - int(timestamp))
    if skew > services.settings.webhook_tolerance_seconds:
        return error(401, "stale_timestamp", f"timestamp is {skew:.0f} s away from now")
    if not SIGNATURE_FORM.fullmatch(signature):
        return error(401, "bad_signature", f"{SIGNATURE_HEADER} must be sha256=<64 hex digits>")
    secret = json.loads(services.secrets.get(WEBHOOK_SECRETS)).get(source)
    if secret is None or not hmac.compare_digest(sign(secret, timestamp, body), signature):
        return error(401, "bad_signature", "signature does not match this source's secret")
    return None


def _rate_limit(services: Services, source: str) -> HttpResult | None:
    """A fixed window per source, counted after authentication so that nobody can spend
    another source's budget; one counter write per request."""
    limit = services.settings.webhook_rate_limit
    if limit == 0:
        return None
    window = services.settings.webhook_rate_window_seconds
    now = services.clock.now().timestamp()
    start = int(now // window) * window
    if services.state.increment(f"webhook-rate:{source}:{start}", 2 * window) <= limit:
        return None
    retry_after = max(1, math.ceil(start + window - now))
    refused = error(429, "rate_limited", f"{limit} requests per {window} s per source")
    return replace(refused, headers={"Retry-After": str(retry_after)})
