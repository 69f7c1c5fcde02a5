"""Allocations within equity; quotas and their reservations."""

from __future__ import annotations

from datetime import timedelta

from tests.integration.manager.conftest import START, Api, fill, order_request

RESERVE = "/api/v1/quotas/reservations"


def reserve(api: Api, request_id: str, notional: str, strategy: str = "trend") -> dict[str, object]:
    body = {
        "request_id": request_id,
        "account": "acct-1",
        "strategy": strategy,
        "notional": notional,
    }
    answer = api.post(RESERVE, role="trader", json=body)
    assert answer.status_code == 200, answer.text
    result: dict[str, object] = answer.json()
    return result


def test_allocations_stay_within_equity(api: Api) -> None:
    api.account(equity="1000")
    first = api.put("/api/v1/allocations/acct-1/trend", role="trader", json={"amount": "600"})
    assert (first.status_code, first.json()["version"]) == (201, 1)
    over = api.put("/api/v1/allocations/acct-1/carry", role="trader", json={"amount": "400.01"})
    assert (over.status_code, over.json()["error"]) == (409, "allocation_exceeds_equity")
    assert api.put("/api/v1/allocations/acct-1/carry", json={"amount": "400"}).status_code == 201
    # Shrinking one makes room for the other; a stale version is refused.
    shrink = api.put("/api/v1/allocations/acct-1/trend", json={"amount": "500", "version": 1})
    assert (shrink.status_code, shrink.json()["version"]) == (200, 2)
    stale = api.put("/api/v1/allocations/acct-1/trend", json={"amount": "1", "version": 1})
    assert stale.status_code == 409
    listed = api.get("/api/v1/allocations", role="reader", params={"account": "acct-1"}).json()
    assert {a["strategy"]: a["amount"] for a in listed["items"]} == {"carry": "400", "trend": "500"}
    assert api.delete("/api/v1/allocations/acct-1/trend", role="trader").status_code == 204
    assert api.get("/api/v1/allocations/acct-1/trend").status_code == 404
    assert api.put("/api/v1/allocations/nobody/trend", json={"amount": "1"}).status_code == 404
    assert (
        api.put("/api/v1/allocations/acct-1/x", role="reader", json={"amount": "1"}).status_code
        == 403
    )


def test_quota_crud(api: Api) -> None:
    api.account()
    limits = {"max_notional": "1000", "max_open_orders": 2}
    created = api.put("/api/v1/quotas/acct-1/trend", role="trader", json=limits)
    assert (created.status_code, created.json()["max_notional"]) == (201, "1000")
    replaced = api.put("/api/v1/quotas/acct-1/trend", json={"max_daily_loss": "50", "version": 1})
    assert (replaced.status_code, replaced.json()["max_notional"]) == (200, None)
    assert api.get("/api/v1/quotas/acct-1/trend", role="reader").json()["max_daily_loss"] == "50"
    assert api.get("/api/v1/quotas", params={"account": "acct-1"}).json()["total"] == 1
    assert api.put("/api/v1/quotas/nobody/trend", json=limits).status_code == 404
    assert api.delete("/api/v1/quotas/acct-1/trend").status_code == 204
    assert api.get("/api/v1/quotas/acct-1/trend").status_code == 404


def test_reservations_hold_until_released_and_are_idempotent(api: Api) -> None:
    api.account()
    api.put("/api/v1/quotas/acct-1/trend", json={"max_notional": "1000", "max_open_orders": 3})
    assert reserve(api, "r1", "600")["granted"] is True
    assert reserve(api, "r1", "600")["granted"] is True  # same request: not counted twice
    refused = reserve(api, "r2", "500")
    assert (refused["granted"], refused["reason"]) == (False, "quota_max_notional")
    usage = api.get("/api/v1/quotas/acct-1/trend/usage").json()
    assert (usage["held_notional"], usage["open_orders"]) == ("600", 1)
    assert api.post(f"{RESERVE}/r1/release", role="trader").status_code == 204
    assert api.post(f"{RESERVE}/r1/release", role="trader").status_code == 204  # idempotent
    assert reserve(api, "r2", "500")["granted"] is True
    assert reserve(api, "other", "5000", strategy="no-quota")["granted"] is True


def test_daily_loss_quota_counts_todays_fills(api: Api) -> None:
    api.account()
    api.put("/api/v1/quotas/acct-1/trend", json={"max_daily_loss": "50"})
    yesterday = START - timedelta(days=1)
    fills = [
        fill(1, price="100", at=yesterday),
        fill(2, "sell", price="40", at=yesterday),  # -60 yesterday: does not count
        fill(3, price="100"),
        fill(4, "sell", price="60", fee="0"),  # -40 today
    ]
    api.post("/api/v1/positions/update", json={"fills": fills})
    assert reserve(api, "r1", "10")["granted"] is True
    api.post("/api/v1/positions/update", json={"fills": [fill(5), fill(6, "sell", price="90")]})
    refused = reserve(api, "r2", "10")
    assert refused["reason"] == "quota_max_daily_loss"


def test_quota_port_through_services(api: Api) -> None:
    from decimal import Decimal

    from stratus.domain.orders import OrderRequest

    api.account()
    api.put("/api/v1/quotas/acct-1/trend", json={"max_open_orders": 1})
    request = OrderRequest.model_validate(order_request(0))
    quotas = api.client.app.state.services.quotas  # type: ignore[attr-defined]
    assert quotas.reserve(request, Decimal(100)) is None
    second = request.model_copy(update={"request_id": "sig-1"})
    assert quotas.reserve(second, Decimal(100)) == "quota_max_open_orders"
    quotas.release("sig-0-0")
    assert quotas.reserve(second, Decimal(100)) is None
