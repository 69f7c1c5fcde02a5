"""Error bodies: field-level 422s, 404/409 with detail, path and trace id."""

from __future__ import annotations

from tests.integration.manager.conftest import Api, fill


def test_422_names_each_bad_field(api: Api) -> None:
    bad = {**fill(1), "quantity": "-1", "symbol": "btc-usdt", "surprise": 1}
    answer = api.post("/api/v1/positions/update", json={"fills": [bad]})
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "invalid_request"
    assert body["path"] == "/api/v1/positions/update"
    assert len(body["trace_id"]) == 32
    locations = {tuple(item["loc"]) for item in body["detail"]}
    assert {
        ("body", "fills", 0, "quantity"),
        ("body", "fills", 0, "symbol"),
        ("body", "fills", 0, "surprise"),
    } <= locations


def test_storage_bounds_are_validation_errors(api: Api) -> None:
    huge = {**fill(1), "quantity": "1e30"}
    tiny = {**fill(2), "price": "0." + "0" * 20 + "1"}
    for body in (huge, tiny):
        assert api.post("/api/v1/positions/update", json={"fills": [body]}).status_code == 422
    naive = api.get("/api/v1/fills", params={"since": "2026-01-01T00:00:00"})
    assert naive.status_code == 422


def test_404_and_409_bodies(api: Api) -> None:
    missing = api.get("/api/v1/accounts/nope", headers={"X-Cloud-Trace-Context": "feed/1"})
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "not_found",
        "detail": "account 'nope' not found",
        "path": "/api/v1/accounts/nope",
        "trace_id": "feed",
    }
    assert missing.headers["x-trace-id"] == "feed"
    api.account()
    again = api.post(
        "/api/v1/accounts",
        json={"account": "acct-1", "exchange_id": "paper", "api_key": "k", "secret": "s"},
    )
    assert (again.status_code, again.json()["error"]) == (409, "account_exists")


def test_unknown_routes_and_methods(api: Api) -> None:
    assert api.get("/api/v1/nothing").json()["error"] == "not_found"
    assert api.call("DELETE", "/api/v1/positions").status_code == 405
