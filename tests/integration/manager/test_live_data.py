"""The manager's side of live data (issue 16): balances and marks pushed from the topics
land in the system of record; a manual balance only on paper, never replaced; positions
carry their mark; /ready reports each dependency."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from stratus.adapters.clock import ManualClock
from stratus.contracts import codec
from stratus.domain.accounts import AssetBalance, Balances
from stratus.domain.common import Side
from stratus.domain.market import Mark, Marks
from stratus.domain.orders import Fill, Liquidity
from stratus.manager.routes import health
from stratus.service.services import Services
from tests.integration.manager.conftest import Api

AT = datetime(2026, 1, 5, 12, tzinfo=UTC)


def push(api: Api, topic: str, message: BaseModel, number: int = 1) -> None:
    body = {
        "message": {
            "data": base64.b64encode(codec.encode(topic, message)).decode(),
            "messageId": f"{topic}-{number}",
        }
    }
    answer = api.post(f"/api/v1/pubsub/{topic}", json=body, role="service")
    assert answer.status_code == 204, answer.text


def wallet(account: str, at: datetime, **totals: str) -> Balances:
    assets = [
        AssetBalance(asset=asset, free=Decimal(total) - 1, used=Decimal(1), total=Decimal(total))
        for asset, total in totals.items()
    ]
    return Balances(account=account, fetched_at=at, assets=assets)


def balances(api: Api, account: str) -> dict[str, dict[str, Any]]:
    answer = api.get("/api/v1/balances", params={"account": account}, role="reader")
    return {item["asset"]: item for item in answer.json()["items"]}


def test_the_exchange_wallet_replaces_what_it_reported_before(api: Api) -> None:
    api.post("/api/v1/accounts", json={"account": "a", "exchange_id": "paper",
                                       "api_key": "key-a", "secret": "s-a"})  # fmt: skip
    push(api, "balances", wallet("a", AT, USDT="1000", BTC="0.5"), 1)
    shown = balances(api, "a")
    assert {a: (b["free"], b["used"], b["total"]) for a, b in shown.items()} == {
        "BTC": ("-0.5", "1", "0.5"),
        "USDT": ("999", "1", "1000"),
    }
    assert {b["source"] for b in shown.values()} == {"exchange"}
    assert shown["USDT"]["updated_at"].startswith("2026-01-05T12:00:00")
    push(api, "balances", wallet("a", AT + timedelta(minutes=1), USDT="900"), 2)
    assert {a: b["total"] for a, b in balances(api, "a").items()} == {"USDT": "900"}
    push(api, "balances", wallet("a", AT, USDT="5"), 3)  # late news never wins
    assert balances(api, "a")["USDT"]["total"] == "900"
    equity = api.get("/api/v1/accounts/a/equity", role="reader").json()
    assert equity == {"account": "a", "currency": "USDT", "equity": "900"}


def test_a_manual_paper_balance_is_marked_and_never_replaced(api: Api) -> None:
    api.account("p", equity="5000")
    push(api, "balances", wallet("p", AT + timedelta(days=400), USDT="100000", BTC="1"))
    shown = balances(api, "p")
    assert (shown["USDT"]["total"], shown["USDT"]["source"]) == ("5000", "manual")
    assert (shown["BTC"]["total"], shown["BTC"]["source"]) == ("1", "exchange")
    # allocations are checked against it
    refused = api.put("/api/v1/allocations/p/trend", json={"amount": "6000"})
    assert refused.status_code == 409
    assert "above equity 5000 USDT" in refused.json()["detail"]


def test_a_real_exchange_accounts_balance_comes_from_the_exchange_only(
    api: Api, system: Services
) -> None:
    system.settings = system.settings.model_copy(update={"exchange": "ccxt"})
    body = {"account": "b", "exchange_id": "bybit", "api_key": "key-b", "secret": "s-b"}
    assert api.post("/api/v1/accounts", json=body).status_code == 201
    refused = api.put("/api/v1/accounts/b/balances/USDT", json={"free": "10"}, role="trader")
    assert refused.status_code == 409
    assert refused.json()["error"] == "balance_from_exchange"
    assert balances(api, "b") == {}
    assert api.get("/api/v1/accounts/b/equity", role="reader").json()["equity"] is None


def test_balances_of_an_unknown_account_are_left_alone(api: Api) -> None:
    push(api, "balances", wallet("ghost", AT, USDT="1"))
    assert balances(api, "ghost") == {}


def test_positions_carry_the_newest_mark_and_its_time(api: Api, system: Services) -> None:
    api.account("m")
    fill = Fill(
        fill_id="f-1", client_order_id="c-1", exchange_order_id="x-1", request_id="r-1",
        account="m", strategy="trend", symbol="BTC/USDT:USDT", side=Side.BUY,
        quantity=Decimal("2"), price=Decimal("100"), fee=Decimal("0"), fee_currency="USDT",
        liquidity=Liquidity.TAKER, executed_at=AT,
    )  # fmt: skip
    system.ledger.apply_fill(fill)
    later = AT + timedelta(seconds=30)
    marks = Marks(
        exchange="paper", marks=[Mark(symbol="BTC/USDT:USDT", price=Decimal("110"), at=later)]
    )
    push(api, "marks", marks, 1)
    stale = Marks(exchange="paper", marks=[Mark(symbol="BTC/USDT:USDT", price=Decimal("1"), at=AT)])
    push(api, "marks", stale, 2)
    [position] = api.get("/api/v1/positions", role="reader").json()["items"]
    assert Decimal(position["mark_price"]) == 110
    assert position["mark_time"].startswith("2026-01-05T12:00:30")
    assert Decimal(position["unrealized_pnl"]) == 20
    audited = api.get("/api/v1/audit", params={"entity": "marks"}).json()["items"]
    assert audited == []  # market data, not a person's change


def test_ready_reports_each_dependency(
    api: Api, system: Services, monkeypatch: pytest.MonkeyPatch, manual_clock: ManualClock
) -> None:
    api.account("r")
    health._exchanges.clear()
    ready = api.get("/ready", role="")
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert checks["database"]["status"] == "ok"
    assert checks["bus"]["status"] == "ok"
    assert checks["exchanges"]["paper"] == {
        **checks["exchanges"]["paper"],
        "status": "ok",
        "through": "r",
    }

    def unreachable() -> None:
        raise ConnectionError("exchange down")

    venue = system.exchanges.for_account("r")
    monkeypatch.setattr(venue, "ping", unreachable)
    assert api.get("/ready", role="").status_code == 200  # the answer is kept a while
    health._exchanges.clear()
    down = api.get("/ready", role="")
    assert down.status_code == 503
    body = down.json()
    assert body["checks"]["exchanges"]["paper"]["status"] == "unavailable"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["detail"] == "exchange paper: exchange down"
    monkeypatch.setattr(system.bus, "ping", unreachable)
    assert "bus: exchange down" in api.get("/ready", role="").json()["detail"]
    health._exchanges.clear()
