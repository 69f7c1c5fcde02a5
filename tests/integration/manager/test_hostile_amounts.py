"""Every amount the manager API accepts follows the one grammar: text that Decimal() would
read but is not plain ASCII decimal (fullwidth digits, underscores, spaces, exponents,
NaN...) is a 422 naming the field and the reason, and nothing is stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.manager.conftest import START, Api, fill

Body = Callable[[Any], dict[str, Any]]


def order(**amounts: Any) -> dict[str, Any]:
    request = {
        "request_id": "req-9",
        "signal_id": "sig-9",
        "leg": 0,
        "account": "acct-1",
        "strategy": "trend",
        "symbol": "BTC/USDT",
        "side": "buy",
        "order_type": "limit",
        "quantity": amounts.pop("quantity", "1"),
        "limit_price": amounts.pop("limit_price", "100"),
        "created_at": START.isoformat(),
    }
    at = START.isoformat()
    return {"request": request, "created_at": at, "updated_at": at, **amounts}


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
    ("order quantity", "POST", "/orders", lambda v: order(quantity=v)),
    ("order limit price", "POST", "/orders", lambda v: order(limit_price=v)),
    ("order filled", "POST", "/orders", lambda v: order(filled=v)),
    ("order cost", "POST", "/orders", lambda v: order(cost=v)),
    ("order fee", "POST", "/orders", lambda v: order(fee=v)),
    ("order's fill", "POST", "/orders", lambda v: order(fills=[{**fill(2), "quantity": v}])),
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


def test_every_amount_field_refuses_every_non_canonical_amount(ready: Api) -> None:
    api = ready
    before = audited(api)
    for field, method, path, body in FIELDS:
        for case, value in BAD.items():
            answer = api.call(method, "/api/v1" + path, json=body(value))
            assert answer.status_code == 422, (field, case, answer.text)
            problem = answer.json()["detail"][-1]
            assert problem["msg"], (field, case)  # a reason, e.g. "'1e3' has an exponent"
    assert audited(api) == before  # nothing written anywhere
    assert api.get("/api/v1/balances").json()["items"][0]["free"] == "1000"


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
        (1.5, "amount_not_text"),
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
