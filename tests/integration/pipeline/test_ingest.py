"""The webhook: signatures, staleness, replays, size, schema, TradingView alerts, and the
hostile input of issue 13 (each case failed, or crashed, before)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from stratus.adapters.clock import ManualClock
from stratus.adapters.local_bus import LocalBus
from stratus.adapters.tradingview import AlertMapping
from stratus.domain.accounts import Account
from stratus.domain.records import Unavailable
from stratus.domain.signals import SIGNAL_ID_MAX, Signal
from stratus.service import dispatch
from stratus.service.handlers import ingest
from stratus.service.services import Services
from tests.conftest import open_accounts

SECRET = "s3cret"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch, services: Services) -> None:
    secrets = {"strat": SECRET, "tv": "tv-secret"}
    monkeypatch.setenv("STRATUS_SECRET_WEBHOOK_SECRETS", json.dumps(secrets))
    open_accounts(services, "a")


def post(
    services: Services, body: object, source: str = "strat", skew: float = 0, key: str = SECRET
) -> tuple[int, dict[str, object]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = str(int(services.clock.now().timestamp() + skew))
    headers = {
        "X-Stratus-Source": source,
        "X-Stratus-Timestamp": stamp,
        "X-Stratus-Signature": ingest.sign(key, stamp, raw),
    }
    result = ingest.ingest_signal(services, headers, raw)
    return result.status, result.body


SIGNAL = {"signal_id": "w-1", "account": "a", "strategy": "st", "symbol": "BTC/USDT:USDT",
          "action": "buy", "quantity": "0.01"}  # fmt: skip


def test_a_signed_signal_is_accepted_once_and_its_replay_refused(
    services: Services, bus: LocalBus
) -> None:
    raw = json.dumps(SIGNAL).encode()
    stamp = str(int(services.clock.now().timestamp()))
    headers = {
        "X-Stratus-Source": "strat",
        "X-Stratus-Timestamp": stamp,
        "X-Stratus-Signature": ingest.sign(SECRET, stamp, raw),
    }
    first = ingest.ingest_signal(services, headers, raw)
    again = ingest.ingest_signal(services, headers, raw)
    assert (first.status, first.body["signal_id"]) == (202, "w-1")
    assert (again.status, again.body["error"]) == (409, "replayed")
    assert len(bus.messages("signals")) == 1
    # A retry signed afresh is accepted; on_signal deduplicates its signal_id.
    assert post(services, SIGNAL, skew=1)[0] == 202


@pytest.mark.parametrize(
    ("kwargs", "status", "reason"),
    [
        ({"skew": -301}, 401, "stale_timestamp"),
        ({"skew": 301}, 401, "stale_timestamp"),
        ({"key": "wrong"}, 401, "bad_signature"),
        ({"source": "nobody"}, 401, "bad_signature"),
    ],
)
def test_unauthentic_requests_are_refused(
    services: Services, bus: LocalBus, kwargs: dict[str, object], status: int, reason: str
) -> None:
    code, body = post(services, SIGNAL, **kwargs)  # type: ignore[arg-type]
    assert (code, body["error"]) == (status, reason)
    assert bus.messages("signals") == []


def test_oversized_malformed_and_off_schema_bodies_are_refused(services: Services) -> None:
    limit = services.settings.max_webhook_bytes
    assert post(services, b"x" * (limit + 1))[1]["error"] == "body_too_large"
    assert post(services, b"{not json")[1]["error"] == "malformed_json"
    assert post(services, {**SIGNAL, "colour": "red"})[1]["error"] == "invalid_field"
    assert post(services, {**SIGNAL, "source": "other"})[1]["error"] == "source_mismatch"


def test_tradingview_alerts_go_through_the_sources_mapping(
    services: Services, bus: LocalBus
) -> None:
    mapping = AlertMapping(account="a", strategy="tv", symbols={"BTCUSDT.P": "BTC/USDT:USDT"})
    services.settings = services.settings.model_copy(update={"tradingview": {"tv": mapping}})
    alert = {"ticker": "BTCUSDT.P", "action": "long", "contracts": "0.01"}
    status, body = post(services, alert, source="tv", key="tv-secret")
    assert status == 202
    assert str(body["signal_id"]).startswith("tv-")
    bus.drain()
    [order] = services.state.orders()
    assert (order.request.strategy, str(order.request.quantity)) == ("tv", "0.01")


def test_a_signal_older_than_the_event_age_is_dropped_downstream(
    services: Services, bus: LocalBus, clock: ManualClock
) -> None:
    assert post(services, SIGNAL)[0] == 202
    clock.advance(timedelta(seconds=services.settings.max_event_age_seconds + 1))
    bus.drain()
    assert services.state.orders() == []
    assert bus.messages("signals-dead-letter") == []


def headers_for(services: Services, raw: bytes, **overrides: str) -> dict[str, str]:
    stamp = overrides.pop("timestamp", str(int(services.clock.now().timestamp())))
    return {
        "X-Stratus-Source": "strat",
        "X-Stratus-Timestamp": stamp,
        "X-Stratus-Signature": ingest.sign(SECRET, stamp, raw),
        **overrides,
    }


@pytest.mark.parametrize(
    ("header", "value", "reason"),
    [
        ("X-Stratus-Signature", "sha256=" + "\u00e9" * 64, "bad_signature"),
        ("X-Stratus-Signature", "sha256=" + "\uff11" * 64, "bad_signature"),
        ("X-Stratus-Signature", "SHA256=" + "A" * 64, "bad_signature"),
        ("X-Stratus-Source", "str\u00e4t", "bad_source"),
        ("X-Stratus-Source", "s" * 65, "bad_source"),
        ("X-Stratus-Timestamp", "\uff11\uff17\uff16\uff17", "bad_timestamp"),
    ],
)
def test_headers_outside_their_ascii_form_are_a_401_not_a_500(
    services: Services, bus: LocalBus, header: str, value: str, reason: str
) -> None:
    raw = json.dumps(SIGNAL).encode()
    result = ingest.ingest_signal(services, headers_for(services, raw, **{header: value}), raw)
    assert (result.status, result.body["error"]) == (401, reason)
    assert bus.messages("signals") == []


@pytest.mark.parametrize(
    "stamp", ["nan", "-nan", "+NAN", "inf", "-Infinity", "1e9", "+1767571500", "-1767571500",
              "1767571500.0", " 1767571500", "1767571500 ", "1_767_571_500", "0x69", ""],
)  # fmt: skip
def test_only_whole_unix_seconds_are_a_timestamp(services: Services, stamp: str) -> None:
    raw = json.dumps(SIGNAL).encode()
    result = ingest.ingest_signal(services, headers_for(services, raw, timestamp=stamp), raw)
    assert result.status == 401
    assert result.body["error"] in {"bad_timestamp", "unauthenticated"}


def test_a_captured_request_is_never_accepted_again_after_its_claim_expires(
    services: Services, bus: LocalBus, clock: ManualClock
) -> None:
    raw = json.dumps(SIGNAL).encode()
    captured = headers_for(services, raw)
    assert ingest.ingest_signal(services, captured, raw).status == 202
    tolerance = services.settings.webhook_tolerance_seconds
    clock.advance(timedelta(seconds=tolerance))
    assert ingest.ingest_signal(services, captured, raw).body["error"] == "replayed"
    clock.advance(timedelta(seconds=tolerance + 1))  # the claim may be gone now
    again = ingest.ingest_signal(services, captured, raw)
    assert (again.status, again.body["error"]) == (401, "stale_timestamp")
    assert len(bus.messages("signals")) == 1


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[" * 5000, "too_deep"),
        (b'{"signal_id": "w-1", "extra": ' + b"[" * 40 + b"]" * 40 + b"}", "too_deep"),
        (b'{"signal_id": "w-1", "signal_id": "w-2", "account": "a"}', "duplicate_key"),
        (b'{"signal_id": "w-1", "confidence": NaN}', "malformed_json"),
        (b'{"quantity": ' + b"1" * 5000 + b"}", "malformed_json"),
        ("\ufeff{}".encode(), "malformed_json"),
        (json.dumps(SIGNAL).encode("utf-16"), "malformed_json"),
    ],
    ids=["deep-array", "deep-field", "duplicate-key", "nan", "huge-int", "bom", "utf-16"],
)
def test_hostile_json_is_a_400_with_a_reason(services: Services, raw: bytes, reason: str) -> None:
    result = ingest.ingest_signal(services, headers_for(services, raw), raw)
    assert (result.status, result.body["error"]) == (400, reason)


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("quantity", "\uff11\uff10", "amount_not_ascii"),  # fullwidth 10
        ("quantity", "\u0967\u0966", "amount_not_ascii"),  # Devanagari 10
        ("quantity", " 0.01", "amount_whitespace"),
        ("quantity", "0.01 ", "amount_whitespace"),
        ("quantity", "0.01\u00a0", "amount_not_ascii"),  # no-break space
        ("quantity", "1_0", "amount_syntax"),
        ("quantity", "NaN", "amount_not_finite"),
        ("quantity", "Infinity", "amount_not_finite"),
        ("quantity", "1e400", "amount_exponent"),
        ("quantity", "1" * 40, "amount_too_large"),
        ("quantity", 0.5, "amount_not_text"),  # json.dumps wrote 0.5: a number, see below
        ("limit_price", "1e-30", "amount_exponent"),
        ("limit_price", "0." + "0" * 29 + "1", "amount_too_precise"),
        ("signal_id", "s" * 128, "string_too_long"),
        ("signal_id", "..", "string_pattern_mismatch"),
        ("confidence", True, "not_a_number"),
        ("confidence", "nan", "amount_not_finite"),
        ("confidence", 1.5, "less_than_equal"),
        ("symbol", "btc/usdt", "string_pattern_mismatch"),
        ("symbol", "BTC/USDT\n", "string_pattern_mismatch"),
        ("symbol", "B" * 60 + "/USDT", "string_too_long"),
    ],
)
def test_signals_that_would_crash_or_mislead_on_signal_are_refused_at_the_door(
    services: Services, bus: LocalBus, field: str, value: object, problem: str
) -> None:
    status, body = post(services, {**SIGNAL, field: value})
    if problem == "amount_not_text":  # a JSON number is read from its text instead
        assert status == 202
        return
    assert (status, body["error"]) == (400, "invalid_field"), body
    assert str(body["detail"]).startswith(f"{field}: ")
    assert bus.messages("signals") == []
    record = {**SIGNAL, "created_at": "2026-01-05T00:00:00Z", "source": "s", field: value}
    with pytest.raises(ValidationError) as refused:  # the reason is the model's error type
        Signal.model_validate(record)
    assert [error["type"] for error in refused.value.errors()] == [problem]


def test_json_numbers_are_read_from_their_text_never_through_float(
    services: Services, bus: LocalBus
) -> None:
    raw = json.dumps(SIGNAL).replace('"0.01"', "0.10000000000000001").encode()
    assert ingest.ingest_signal(services, headers_for(services, raw), raw).status == 202
    [published] = bus.messages("signals")
    assert json.loads(published.data)["quantity"] == "0.10000000000000001"  # float: 0.1
    for text in ("1e-1", "-0.5", "1E2"):
        raw = json.dumps(SIGNAL).replace('"0.01"', text).encode()
        result = ingest.ingest_signal(services, headers_for(services, raw), raw)
        assert (result.status, result.body["error"]) == (400, "invalid_field")


def test_the_longest_signal_id_leaves_room_for_every_derived_id(
    services: Services, bus: LocalBus
) -> None:
    longest = "s" * SIGNAL_ID_MAX
    status, _ = post(services, {**SIGNAL, "signal_id": longest, "quantity": "0.3"})
    assert status == 202
    bus.drain()
    assert [len(r.request.request_id) for r in services.state.orders()] == [SIGNAL_ID_MAX + 2]
    assert bus.messages("signals-dead-letter") == []


def published_straight(bus: LocalBus, services: Services, **fields: object) -> None:
    """A signal published to the topic by someone who skipped the webhook."""
    record = {**SIGNAL, "source": "strategy", "created_at": services.clock.now().isoformat()}
    bus.publish("signals", json.dumps({**record, **fields}).encode(), {"trace_id": "t"})
    bus.drain()


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"quantity": "999999999999999999"}, "too_many_legs"),  # 10^16 legs if built
        ({"quantity": "2000"}, "too_many_legs"),
        ({"limit_price": "0.000000000000000001"}, "limit_price_rounds_to_zero"),
        ({"account": "nobody"}, "unknown_account"),
        ({"quantity": "1e400"}, "invalid_field"),
        ({"signal_id": "s" * 128}, "invalid_field"),
    ],
)
def test_what_only_on_signal_can_know_is_dead_lettered_on_the_first_delivery(
    services: Services, bus: LocalBus, fields: dict[str, object], reason: str
) -> None:
    published_straight(bus, services, **fields)
    [dead] = bus.messages("signals-dead-letter")
    assert dead.attributes["reason"] == reason
    assert dead.attributes["delivery_attempt"] == "1"  # never retried
    assert bus.messages("order-requests") == []


def test_a_disabled_account_takes_no_signals(services: Services, bus: LocalBus) -> None:
    services.accounts.update("a", {"enabled": False})  # type: ignore[attr-defined]
    status, body = post(services, SIGNAL)
    assert (status, body["error"]) == (400, "account_disabled")
    assert post(services, {**SIGNAL, "account": "nobody"})[1]["error"] == "unknown_account"
    published_straight(bus, services)
    [dead] = bus.messages("signals-dead-letter")
    assert dead.attributes["reason"] == "account_disabled"
    assert services.state.orders() == []


class Unreachable:
    """An account directory whose system of record is down."""

    def get(self, account: str) -> Account:
        raise Unavailable("manager unreachable: connection refused")

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"ingest must not call {name}")


def test_while_the_system_of_record_is_unreachable_signals_wait_on_the_topic(
    services: Services, bus: LocalBus
) -> None:
    directory = services.accounts
    services.accounts = Unreachable()
    assert post(services, {**SIGNAL, "account": "nobody"})[0] == 202
    with pytest.raises(Unavailable):  # on_signal retries until it can decide
        dispatch.deliver(services, "on_signal", bus.messages("signals")[0].data, {}, None)
    services.accounts = directory
    bus.drain()
    [dead] = bus.messages("signals-dead-letter")
    assert dead.attributes["reason"] == "unknown_account"


def test_each_source_has_a_rate_limit_with_retry_after(
    services: Services, bus: LocalBus, clock: ManualClock
) -> None:
    services.settings = services.settings.model_copy(
        update={"webhook_rate_limit": 3, "webhook_rate_window_seconds": 60}
    )
    clock.set(clock.now().replace(second=0, microsecond=0) + timedelta(seconds=20))
    assert post(services, SIGNAL, key="wrong")[0] == 401  # forgeries spend no budget
    answers = [post(services, {**SIGNAL, "signal_id": f"r-{n}"})[0] for n in range(3)]
    assert answers == [202, 202, 202]
    raw = json.dumps({**SIGNAL, "signal_id": "r-3"}).encode()
    limited = ingest.ingest_signal(services, headers_for(services, raw), raw)
    assert (limited.status, limited.body["error"]) == (429, "rate_limited")
    assert limited.headers == {"Retry-After": "40"}
    assert post(services, SIGNAL, source="tv", key="tv-secret")[0] != 429  # its own budget
    clock.advance(timedelta(seconds=40))
    assert ingest.ingest_signal(services, headers_for(services, raw), raw).status == 202


def test_a_flood_of_one_signed_request_trades_once(services: Services, bus: LocalBus) -> None:
    services.settings = services.settings.model_copy(update={"webhook_rate_limit": 20})
    raw = json.dumps(SIGNAL).encode()
    captured = headers_for(services, raw)
    answers = Counter(ingest.ingest_signal(services, captured, raw).status for _ in range(200))
    assert answers == {202: 1, 409: 19, 429: 180}
    bus.drain()
    assert len(services.state.orders()) == 1
