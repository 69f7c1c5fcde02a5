"""Positions: fills applied once, filters, pagination, by asset, validation, snapshots."""

from __future__ import annotations

from datetime import timedelta

from stratus.domain.orders import client_order_id_for
from tests.integration.manager.conftest import START, Api, fill, order

UPDATE = "/api/v1/positions/update"


def test_fills_apply_once_by_fill_id(api: Api) -> None:
    first = api.post(UPDATE, role="trader", json={"fills": [fill(1), fill(2, price="110")]})
    assert [r["applied"] for r in first.json()["results"]] == [True, True]
    position = first.json()["results"][1]["position"]
    assert (position["quantity"], position["average_entry"]) == ("2", "105")
    again = api.post(UPDATE, role="trader", json={"fills": [fill(2, price="110"), fill(3, "sell")]})
    assert [r["applied"] for r in again.json()["results"]] == [False, True]
    [stored] = api.get("/api/v1/positions").json()["items"]
    assert (stored["quantity"], stored["realized_pnl"], stored["closing_fills"]) == ("1", "-5", 1)
    assert api.get("/api/v1/fills").json()["total"] == 3


def test_filters_and_pagination(api: Api) -> None:
    fills = [
        fill(1, symbol="BTC/USDT"),
        fill(2, symbol="BTC/USDT:USDT", strategy="carry"),
        fill(3, symbol="ETH/USDT", strategy="carry"),
        fill(4, symbol="ETH/USDT:USDT", account="acct-2"),
        fill(5, "sell", symbol="ETH/USDT:USDT", account="acct-2"),  # closes it
    ]
    api.post(UPDATE, json={"fills": fills})

    def symbols(**params: str | int) -> list[str]:
        answer = api.get("/api/v1/positions", role="reader", params=params).json()
        return [f"{p['account']}:{p['symbol']}" for p in answer["items"]]

    # Ordered by account, strategy, symbol: "carry" before "trend".
    assert symbols(asset="BTC") == ["acct-1:BTC/USDT:USDT", "acct-1:BTC/USDT"]
    assert symbols(mode="swap") == ["acct-1:BTC/USDT:USDT", "acct-2:ETH/USDT:USDT"]
    assert symbols(asset="ETH", mode="spot") == ["acct-1:ETH/USDT"]
    assert symbols(strategy="carry") == ["acct-1:BTC/USDT:USDT", "acct-1:ETH/USDT"]
    assert symbols(status="closed") == ["acct-2:ETH/USDT:USDT"]
    assert symbols(status="open", account="acct-2") == []
    page = api.get("/api/v1/positions", params={"limit": 2, "offset": 2}).json()
    assert (page["total"], len(page["items"]), page["offset"]) == (4, 2, 2)
    by_asset = api.get("/api/v1/positions/ETH", params={"status": "open"}).json()
    assert [p["symbol"] for p in by_asset["items"]] == ["ETH/USDT"]


def test_a_fill_arriving_after_a_later_one_is_booked_in_execution_order(api: Api) -> None:
    """A resting order's fill adopted by reconciliation can reach the ledger after a
    later fill of the same position: the position (and what each fill realized) is the
    same as if the fills had come in the order they executed."""
    minute = timedelta(minutes=1)
    api.post(UPDATE, json={"fills": [fill(1), fill(3, "sell", price="120", at=START + 2 * minute)]})
    late = fill(2, price="110", at=START + minute)  # executed before the sell
    [result] = api.post(UPDATE, json={"fills": [late]}).json()["results"]
    # buy 1 @ 100, buy 1 @ 110 (entry 105), sell 1 @ 120: realized 15, long 1 @ 105.
    expected = {"quantity": "1", "average_entry": "105", "realized_pnl": "15"}
    assert {k: result["position"][k] for k in expected} == expected
    [stored] = api.get("/api/v1/positions").json()["items"]
    assert {k: stored[k] for k in expected} == expected
    assert (stored["closing_fills"], stored["winning_fills"], stored["version"]) == (1, 1, 3)
    assert api.store.ledger.realized_pnl_since("acct-1", START) == 15  # fill 3's, rebooked
    assert api.post("/api/v1/positions/validate").json()["valid"] is True


def test_validate_replays_fills(api: Api) -> None:
    api.post(UPDATE, json={"fills": [fill(1), fill(2, "sell", "0.4", "130"), fill(3, price="90")]})
    report = api.post("/api/v1/positions/validate", role="reader").json()
    assert (report["checked"], report["valid"]) == (1, True)
    with api.store.database.transaction() as session:  # corrupt the stored position
        session.execute(__import__("sqlalchemy").text("UPDATE positions SET quantity = '7'"))
    report = api.post("/api/v1/positions/validate").json()
    assert report["valid"] is False
    [bad] = report["mismatches"]
    assert (bad["stored_quantity"], bad["replayed_quantity"]) == ("7", "1.6")


def test_snapshots_are_idempotent_per_time(api: Api) -> None:
    api.post(UPDATE, json={"fills": [fill(1), fill(2, symbol="ETH/USDT", price="10")]})
    body = {"taken_at": START.isoformat(), "marks": {"BTC/USDT": "120"}}
    first = api.post("/api/v1/positions/snapshots", role="trader", json=body)
    assert (first.status_code, first.json()["created"]) == (201, True)
    again = api.post("/api/v1/positions/snapshots", role="trader", json=body)
    assert (again.status_code, again.json()["created"]) == (200, False)
    later = {"taken_at": (START + timedelta(hours=1)).isoformat()}
    assert api.post("/api/v1/positions/snapshots", json=later).status_code == 201
    rows = api.get("/api/v1/positions/snapshots", params={"taken_at": START.isoformat()}).json()
    marks = {r["symbol"]: (r["mark_price"], r["unrealized_pnl"]) for r in rows["items"]}
    assert marks == {"BTC/USDT": ("120", "20"), "ETH/USDT": ("10", "0")}
    assert api.get("/api/v1/positions/snapshots").json()["total"] == 4


def test_readers_cannot_apply_fills(api: Api) -> None:
    refused = api.post(UPDATE, role="reader", json={"fills": [fill(1)]})
    assert refused.status_code == 403
    assert api.get("/api/v1/positions").json()["total"] == 0


def test_orders_ledger_records_forward_only(api: Api) -> None:
    document = order(
        1,
        quantity="2",
        status="partially_filled",
        filled="1",
        cost="100",
        fee="0.1",
        exchange_order_id="ex-1",
    )
    path = f"/api/v1/orders/{client_order_id_for('sig-1-0')}"
    first = api.put(path, role="trader", json=document).json()
    assert first["changed"] is True
    done = {**document, "status": "filled", "filled": "2", "cost": "200"}
    assert api.put(path, role="trader", json=done).json()["changed"] is True
    assert api.put(path, role="trader", json=document).json()["changed"] is False
    other = api.put("/api/v1/orders/stx-other", role="trader", json=document)
    assert (other.status_code, other.json()["error"]) == (400, "order_id_mismatch")
    listed = api.get("/api/v1/orders", params={"status": "filled", "account": "acct-1"}).json()
    [entry] = listed["items"]
    assert (entry["filled"], entry["status"], entry["version"]) == ("2", "filled", 2)
    found = api.get(f"/api/v1/orders/{first['client_order_id']}").json()
    assert found["request_id"] == "sig-1-0"
    assert api.get("/api/v1/orders/stx-unknown").status_code == 404
    assert api.get("/api/v1/orders", params={"status": "open"}).json()["total"] == 0


def test_fills_ledger_filters(api: Api) -> None:
    later = START + timedelta(hours=2)
    api.post(UPDATE, json={"fills": [fill(1), fill(2, at=later), fill(3, strategy="carry")]})
    since = api.get("/api/v1/fills", params={"since": (START + timedelta(hours=1)).isoformat()})
    assert [f["fill_id"] for f in since.json()["items"]] == ["fill-2"]
    carry = api.get("/api/v1/fills", params={"strategy": "carry"}).json()
    assert [f["fill_id"] for f in carry["items"]] == ["fill-3"]
    page = api.get("/api/v1/fills", params={"limit": 1, "offset": 1}).json()
    assert (page["total"], [f["fill_id"] for f in page["items"]]) == (3, ["fill-3"])
