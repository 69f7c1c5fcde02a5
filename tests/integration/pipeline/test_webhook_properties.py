"""Properties of the webhook handler over generated input: whatever arrives, the answer is
a 202 or a 4xx with a reason, and what is accepted is exactly what was sent."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from stratus.adapters.local_bus import LocalBus
from stratus.contracts import codec
from stratus.domain.signals import Signal
from stratus.service.handlers import ingest
from stratus.service.services import Services
from tests.conftest import open_accounts

SECRET = "property-secret"
FIXTURES = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
ANSWERS = {202, 400, 401, 409, 413, 429}

header_names = st.sampled_from(
    [ingest.SOURCE_HEADER, ingest.TIMESTAMP_HEADER, ingest.SIGNATURE_HEADER, "X-Other"]
)
# Header values as a server decodes them: any bytes a client sent, read as Latin-1.
header_values = st.binary(max_size=80).map(lambda raw: raw.decode("latin-1")) | st.text(max_size=80)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children),
    max_leaves=12,
)
VALID = {"account": "acct", "strategy": "st", "symbol": "BTC/USDT:USDT", "action": "buy",
         "quantity": "0.01"}  # fmt: skip
# Amount-looking text, sometimes past the grammar's 18 digits or places.
amount_like = st.from_regex(r"[0-9]{1,20}(\.[0-9]{1,20})?", fullmatch=True)
# Signals with any field replaced by anything.
signal_bodies = st.dictionaries(
    st.sampled_from([*VALID, "signal_id", "limit_price", "stop_price", "confidence",
                     "created_at", "source", "surprise"]),
    json_values | st.text(max_size=40) | amount_like | amount_like.map(float),
).map(lambda changes: {"signal_id": "p-1", **VALID, **changes})  # fmt: skip


@pytest.fixture(autouse=True)
def sources(monkeypatch: pytest.MonkeyPatch, services: Services) -> None:
    monkeypatch.setenv("STRATUS_SECRET_WEBHOOK_SECRETS", json.dumps({"prop": SECRET}))
    services.settings = services.settings.model_copy(update={"webhook_rate_limit": 0})
    open_accounts(services, "acct")


def signed(services: Services, body: bytes) -> dict[str, str]:
    stamp = str(int(services.clock.now().timestamp()))
    return {
        ingest.SOURCE_HEADER: "prop",
        ingest.TIMESTAMP_HEADER: stamp,
        ingest.SIGNATURE_HEADER: ingest.sign(SECRET, stamp, body),
    }


def answered(services: Services, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
    result = ingest.ingest_signal(services, headers, body)
    assert result.status in ANSWERS
    if result.status != 202:
        assert result.body["error"]
        assert result.body["detail"]
    return result.status, result.body


@FIXTURES
@given(headers=st.dictionaries(header_names, header_values), body=st.binary(max_size=300))
def test_any_headers_and_bytes_get_an_answer_with_a_reason(
    services: Services, headers: dict[str, str], body: bytes
) -> None:
    status, _ = answered(services, headers, body)
    assert status == 401 or len(body) > services.settings.max_webhook_bytes


@FIXTURES
@given(body=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_signed_garbage_is_a_400_never_a_crash(services: Services, body: bytes) -> None:
    status, _ = answered(services, signed(services, body), body)
    assert status in {400, 409}  # 409: hypothesis sent the same bytes again


@FIXTURES
@given(record=signal_bodies)
@example(record={"signal_id": "p-1", **VALID, "stop_price": "044.044"})  # "007" is 7
@example(record={"signal_id": "p-1", **VALID, "limit_price": "0.0000001"})  # never 1E-7
def test_a_signed_signal_is_refused_or_published_exactly_as_sent(
    services: Services, bus: LocalBus, record: dict[str, Any]
) -> None:
    body = json.dumps(record).encode()
    published = len(bus.messages("signals"))
    status, answer = answered(services, signed(services, body), body)
    if status != 202:
        assert len(bus.messages("signals")) == published
        return
    message = codec.decode("signals", bus.messages("signals")[-1].data)
    assert isinstance(message, Signal)
    assert message.signal_id == answer["signal_id"] == record["signal_id"]
    for name in ("quantity", "limit_price", "stop_price"):
        sent, got = record.get(name), getattr(message, name)
        if got is None:
            assert sent in (None, "")
        else:  # as written (the string, or the JSON number's text): the same digits to
            # the same places, so no float passed; leading zeros, which the amount
            # grammar allows, carry nothing
            written = sent if isinstance(sent, str) else json.dumps(sent)
            assert got.as_tuple() == Decimal(written).as_tuple(), (got, written)
