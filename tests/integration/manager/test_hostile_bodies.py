"""Hostile bodies at the manager API. Every amount follows the one grammar: text that
Decimal() would read but is not plain ASCII decimal (fullwidth digits, underscores,
spaces, exponents, NaN...) is a 422 naming the field and the reason. JSON itself is read
strictly: duplicate keys, deep nesting, NaN tokens, bad encodings are a 400 with the
reason. Never a 5xx, and nothing is stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from stratus.domain.orders import client_order_id_for
from stratus.manager.bodies import MAX_BODY_BYTES, StrictJsonRoute
from tests.integration.manager.conftest import START, Api, fill, order
from tests.integration.manager.route_table import operations

Body = Callable[[Any], dict[str, Any]]
ORDER_9 = f"/orders/{client_order_id_for('sig-9-0')}"


def manual(**amounts: Any) -> dict[str, Any]:
    base = {"key": "k1", "account": "acct-1", "symbol": "BTC/USDT", "side": "buy"}
    return {**base, "quantity": "1", **amounts}


def close(**amounts: Any) -> dict[str, Any]:
    return {"account": "acct-1", "strategy": "trend", "symbol": "BTC/USDT", **amounts}


# (field, method, path, body with the amount in place)
FIELDS: list[tuple[str, str, str, Body]] = [
    ("balance free", "PUT", "/accounts/acct-1/balances/USDT", lambda v: {"free": v}),
    ("balance used", "PUT", "/accounts/acct-1/balances/USDT", lambda v: {"free": "1", "used": v}),
    ("allocation", "PUT", "/allocations/acct-1/trend", lambda v: {"amount": v}),
    ("quota notional", "PUT", "/quotas/acct-1/trend", lambda v: {"max_notional": v}),
    ("quota order", "PUT", "/quotas/acct-1/trend", lambda v: {"max_order_notional": v}),
    ("quota loss", "PUT", "/quotas/acct-1/trend", lambda v: {"max_daily_loss": v}),
    (
        "reservation",
        "POST",
        "/quotas/reservations",
        lambda v: {"request_id": "r", "account": "acct-1", "strategy": "trend", "notional": v},
    ),
    ("mark", "PUT", "/marks", lambda v: {"marks": {"BTC/USDT": v}}),
    ("snapshot mark", "POST", "/positions/snapshots", lambda v: {"marks": {"BTC/USDT": v}}),
    (
        "snapshot balance",
        "POST",
        "/positions/snapshots",
        lambda v: {"balances": {"acct-1": {"USDT": v}}},
    ),
    (
        "fill quantity",
        "POST",
        "/positions/update",
        lambda v: {"fills": [{**fill(1), "quantity": v}]},
    ),
    ("fill price", "POST", "/positions/update", lambda v: {"fills": [{**fill(1), "price": v}]}),
    ("fill fee", "POST", "/positions/update", lambda v: {"fills": [{**fill(1), "fee": v}]}),
    ("order quantity", "PUT", ORDER_9, lambda v: order(9, quantity=v)),
    ("order limit price", "PUT", ORDER_9, lambda v: order(9, limit_price=v)),
    ("order filled", "PUT", ORDER_9, lambda v: order(9, filled=v)),
    ("order cost", "PUT", ORDER_9, lambda v: order(9, cost=v)),
    ("order fee", "PUT", ORDER_9, lambda v: order(9, fee=v)),
    ("order's fill", "PUT", ORDER_9, lambda v: order(9, fills=[{**fill(2), "quantity": v}])),
    ("manual order quantity", "POST", "/orders", lambda v: manual(quantity=v)),
    ("manual order limit price", "POST", "/orders", lambda v: manual(limit_price=v)),
    ("close quantity", "POST", "/positions/close", lambda v: close(quantity=v)),
]

BAD = {
    "issue 13's example": "１_０００ ",  # noqa: RUF001
    "fullwidth digits": "".join(chr(0xFF10 + int(digit)) for digit in "1000"),
    "devanagari digits": "\u0967\u0966\u0966\u0966",
    "arabic-indic digits": "\u0661\u0660",
    "underscore": "1_0",
    "leading space": " 10",
    "trailing space": "10 ",
    "no-break space": "10\u00a0",
    "newline": "10\n",
    "zero-width space": "\u200b10",
    "exponent": "1e3",
    "capital exponent": "1E3",
    "negative exponent": "1e-3",
    "huge exponent": "1e400",
    "NaN": "NaN",
    "signed NaN": "-nan",
    "Infinity": "Infinity",
    "inf": "inf",
    "plus sign": "+10",
    "hex": "0x10",
    "thousands separator": "1,000",
    "empty": "",
    "bare dot": ".5",
    "trailing dot": "5.",
    "two dots": "1.0.0",
    "double minus": "--1",
    "40 digits": "1" * 40,
    "19 places": "0." + "0" * 18 + "1",
    "JSON true": True,
    "JSON list": ["1"],
    "JSON object": {"value": "1"},
}


def audited(api: Api) -> int:
    total: int = api.get("/api/v1/audit").json()["total"]
    return total


@pytest.fixture
def ready(api: Api) -> Api:
    api.account(equity="1000")
    return api


def refused(api: Api, method: str, path: str, body: dict[str, Any]) -> str:
    """The reason of the 422 `body` must get."""
    answer = api.call(method, "/api/v1" + path, json=body)
    assert answer.status_code == 422, (path, body, answer.text)
    reason: str = answer.json()["detail"][-1]["msg"]  # e.g. "'1e3' has an exponent"
    return reason


def test_every_non_canonical_amount_is_refused(ready: Api) -> None:
    before = audited(ready)
    for case, value in BAD.items():
        assert refused(ready, "PUT", "/accounts/acct-1/balances/USDT", {"free": value}), case
    assert audited(ready) == before  # nothing written anywhere
    assert ready.get("/api/v1/balances").json()["items"][0]["free"] == "1000"


def test_every_amount_field_follows_the_grammar(ready: Api) -> None:
    before = audited(ready)
    for field, method, path, body in FIELDS:
        for case in ("issue 13's example", "underscore", "exponent", "NaN", "JSON list"):
            assert refused(ready, method, path, body(BAD[case])), (field, case)
    assert audited(ready) == before


def test_the_reason_is_machine_readable(ready: Api) -> None:
    answer = ready.put("/api/v1/accounts/acct-1/balances/USDT", json={"free": "１_０００ "})  # noqa: RUF001
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["body", "free"]
    assert problem["type"] == "amount_not_ascii"
    for value, reason in [
        ("1e3", "amount_exponent"),
        ("NaN", "amount_not_finite"),
        ("1_0", "amount_syntax"),
        (" 1", "amount_whitespace"),
        (True, "amount_not_text"),
    ]:
        detail = ready.put("/api/v1/allocations/acct-1/trend", json={"amount": value}).json()
        assert detail["detail"][0]["type"] == reason, value


def test_signed_fields_take_a_minus_and_nothing_else(ready: Api) -> None:
    body = {"taken_at": START.isoformat(), "balances": {"acct-1": {"BTC": "-0.5"}}}
    assert ready.post("/api/v1/positions/snapshots", json=body).status_code == 201
    for unsigned in ("-1", "-0.5"):
        answer = ready.put("/api/v1/accounts/acct-1/balances/BTC", json={"free": unsigned})
        assert answer.json()["detail"][0]["type"] == "amount_sign"


def test_canonical_amounts_are_stored_exactly(ready: Api) -> None:
    answer = ready.put(
        "/api/v1/accounts/acct-1/balances/BTC",
        json={"free": "0.123456789012345678", "used": "999999999999999"},
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["free"], answer.json()["used"]) == (
        "0.123456789012345678",
        "999999999999999",
    )
    assert ready.put("/api/v1/allocations/acct-1/trend", json={"amount": 300}).status_code == 201
    assert ready.get("/api/v1/allocations/acct-1/trend").json()["amount"] == "300"


# (name, raw body) for PUT /accounts/acct-1/balances/USDT; error is the 400's reason.
BAD_JSON = [
    ("duplicate key", b'{"free": "1", "free": "1000"}', "duplicate_key"),
    ("duplicate nested key", b'{"fills": [{"quantity": "1", "quantity": "2"}]}', "duplicate_key"),
    ("5000 brackets", b"[" * 5000, "too_deep"),
    ("deep inside a field", b'{"free": ' + b"[" * 40 + b"]" * 40 + b"}", "too_deep"),
    ("NaN token", b'{"free": NaN}', "malformed_json"),
    ("Infinity token", b'{"free": Infinity}', "malformed_json"),
    ("-Infinity token", b'{"free": -Infinity}', "malformed_json"),
    ("latin-1", b'{"free": "1", "label": "caf\xe9"}', "malformed_json"),
    ("UTF-16", '{"free": "1"}'.encode("utf-16"), "malformed_json"),
    ("truncated", b'{"free": "1"', "malformed_json"),
    ("trailing garbage", b'{"free": "1"} x', "malformed_json"),
    ("single quotes", b"{'free': '1'}", "malformed_json"),
    ("5000 digits", b'{"free": ' + b"1" * 5000 + b"}", "malformed_json"),
]
JSON_NUMBERS = [
    (b"1e3", "amount_exponent"),
    (b"1.5E+2", "amount_exponent"),
    (b"1e400", "amount_exponent"),
    (b"-0.0", "amount_sign"),
    (b"1" + b"0" * 30, "amount_too_large"),
    (b"true", "amount_not_text"),
]


def put_raw(api: Api, content: bytes) -> tuple[int, dict[str, Any]]:
    answer = api.put(
        "/api/v1/accounts/acct-1/balances/USDT",
        content=content,
        headers={"Content-Type": "application/json"},
    )
    return answer.status_code, answer.json()


def test_bad_json_is_a_400_with_its_reason(ready: Api) -> None:
    before = audited(ready)
    for name, content, reason in BAD_JSON:
        status, payload = put_raw(ready, content)
        assert (status, payload["error"]) == (400, reason), (name, payload)
        assert payload["detail"], name
    assert audited(ready) == before
    assert ready.get("/api/v1/balances").json()["items"][0]["free"] == "1000"


def test_json_numbers_are_read_from_their_text_never_through_a_float(ready: Api) -> None:
    for number, reason in JSON_NUMBERS:
        status, payload = put_raw(ready, b'{"free": ' + number + b"}")
        assert (status, payload["detail"][0]["type"]) == (422, reason), number
    status, payload = put_raw(ready, b'{"free": 0.1, "used": 0.30000000000000004}')
    assert status == 200, payload
    assert (payload["free"], payload["used"]) == ("0.1", "0.30000000000000004")  # exact
    status, payload = put_raw(ready, b'{"free": 1000}')
    assert (status, payload["free"]) == (200, "1000")


def test_nesting_within_the_bound_reaches_validation(ready: Api) -> None:
    status, payload = put_raw(ready, b'{"free": ' + b"[" * 30 + b"]" * 30 + b"}")
    assert (status, payload["error"]) == (422, "invalid_request")


def test_every_route_reads_its_body_strictly(api: Api) -> None:
    app = api.client.app
    assert isinstance(app, FastAPI)
    for operation in operations(app):
        assert isinstance(operation.route, StrictJsonRoute), operation


def test_a_body_over_the_limit_is_refused_unread(ready: Api) -> None:
    content = b'{"free": "1", "label": "' + b"x" * MAX_BODY_BYTES + b'"}'
    answer = ready.put(
        "/api/v1/accounts/acct-1/balances/USDT",
        content=content,
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 413
