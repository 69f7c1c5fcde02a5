"""Taking control through the manager (docs/control.md): every control is a message the
pipeline carries out with its own rules, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal as D
from typing import Any

import pytest

from stratus.adapters.clock import ManualClock
from stratus.adapters.local_bus import LocalBus
from stratus.adapters.paper.feed import PriceFeed
from stratus.cli import control, main
from stratus.cli.remote import Remote, RemoteError
from stratus.domain.orders import OrderStatus
from stratus.domain.risk import TradingState
from stratus.service.services import Services
from tests.integration.manager.conftest import DEV_TOKEN, Api

BTC = "BTC/USDT:USDT"


@pytest.fixture
def manual_clock() -> ManualClock:
    """The shipped price feed's first tick: the paper exchange quotes from there."""
    return ManualClock(PriceFeed.default().start)


@pytest.fixture
def trading(api: Api) -> Api:
    api.account("acct-1", equity="1000000")
    return api


def drain(system: Services) -> None:
    assert isinstance(system.bus, LocalBus)
    system.bus.drain()


def manual(key: str, side: str = "buy", quantity: str = "0.01", **extra: Any) -> dict[str, Any]:
    body = {"key": key, "account": "acct-1", "strategy": "desk", "symbol": BTC, "side": side}
    return {**body, "quantity": quantity, **extra}


def audited(api: Api, action: str) -> list[dict[str, Any]]:
    page = api.get("/api/v1/audit", params={"action": action}).json()
    return list(page["items"])


def test_a_manual_order_goes_through_risk_and_trades_once(trading: Api, system: Services) -> None:
    first = trading.post("/api/v1/orders", role="trader", json=manual("k1"))
    assert first.status_code == 202, first.text
    again = trading.post("/api/v1/orders", role="trader", json=manual("k1"))
    assert again.json() == first.json()  # the same key: the same order
    drain(system)
    coid = first.json()["client_order_id"]
    order = trading.get(f"/api/v1/orders/{coid}").json()
    assert (order["status"], D(order["filled"]), order["signal_id"]) == (
        "filled",
        D("0.01"),
        "manual-k1",
    )
    assert system.ledger.position("acct-1", "desk", BTC).quantity == D("0.01")
    [entry, _] = audited(trading, "signal.buy")
    assert entry["actor"] == "token:test-trader"
    assert entry["entity_id"] == "manual-k1"


def test_a_manual_order_risk_refuses_is_rejected_with_the_reason(
    trading: Api, system: Services
) -> None:
    system.state.set_trading_state("account:acct-1", TradingState.HALTED, "test")
    answer = trading.post("/api/v1/orders", role="trader", json=manual("k2"))
    drain(system)
    signals = trading.get("/api/v1/signals", params={"source": "manual"}).json()["items"]
    [fate] = [s for s in signals if s["signal_id"] == answer.json()["signal_id"]]
    assert "kill_switch_halted" in str(fate)
    assert system.ledger.position("acct-1", "desk", BTC).quantity == 0


def test_manual_orders_need_the_trader_role_and_a_known_account(trading: Api) -> None:
    assert trading.post("/api/v1/orders", role="reader", json=manual("k3")).status_code == 403
    unknown = trading.post(
        "/api/v1/orders", role="trader", json={**manual("k3"), "account": "nope"}
    )
    assert unknown.status_code == 404
    assert (
        trading.post("/api/v1/orders", role="trader", json={**manual("k3"), "extra": 1}).status_code
        == 422
    )


def resting_buy(api: Api, system: Services, key: str) -> str:
    """A limit buy far below the market: it rests on the exchange."""
    body = manual(key, limit_price="1000")
    coid: str = api.post("/api/v1/orders", role="trader", json=body).json()["client_order_id"]
    drain(system)
    assert api.get(f"/api/v1/orders/{coid}").json()["status"] == "open"
    return coid


def test_cancel_takes_a_working_order_off_the_exchange(trading: Api, system: Services) -> None:
    coid = resting_buy(trading, system, "rest-1")
    answer = trading.delete(f"/api/v1/orders/{coid}", role="trader")
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "open"
    assert trading.delete(f"/api/v1/orders/{coid}", role="trader").status_code == 202  # twice
    drain(system)
    assert trading.get(f"/api/v1/orders/{coid}").json()["status"] == "canceled"
    record = system.state.get_order(coid)
    assert record is not None
    assert record.status is OrderStatus.CANCELED
    assert not system.exchanges.for_account("acct-1").open_orders()
    final = trading.delete(f"/api/v1/orders/{coid}", role="trader")
    assert (final.status_code, final.json()["error"]) == (409, "order_final")
    assert "canceled" in final.json()["detail"]
    assert audited(trading, "order.cancel")[0]["actor"] == "token:test-trader"


def test_cancel_of_an_unknown_order_is_404_and_needs_a_trader(
    trading: Api, system: Services
) -> None:
    assert trading.delete("/api/v1/orders/stx-nothing", role="trader").status_code == 404
    coid = resting_buy(trading, system, "rest-2")
    assert trading.delete(f"/api/v1/orders/{coid}", role="reader").status_code == 403


def test_close_takes_all_or_part_of_a_strategy_position(trading: Api, system: Services) -> None:
    trading.post("/api/v1/orders", role="trader", json=manual("open", quantity="0.03"))
    trading.post(
        "/api/v1/orders",
        role="trader",
        json={**manual("other", quantity="0.02"), "strategy": "trend"},
    )
    drain(system)
    where = {"account": "acct-1", "strategy": "desk", "symbol": BTC}
    part = trading.post(
        "/api/v1/positions/close", role="trader", json={**where, "quantity": "0.01"}
    )
    assert part.status_code == 202, part.text
    drain(system)
    assert system.ledger.position("acct-1", "desk", BTC).quantity == D("0.02")
    whole = trading.post("/api/v1/positions/close", role="trader", json=where)
    drain(system)
    assert whole.json()["signal_id"] != part.json()["signal_id"]
    assert system.ledger.position("acct-1", "desk", BTC).quantity == 0
    assert system.ledger.position("acct-1", "trend", BTC).quantity == D("0.02")  # its own
    flat = trading.post("/api/v1/positions/close", role="trader", json=where)
    assert flat.status_code == 404  # nothing to close
    assert len(audited(trading, "signal.close")) == 2


def test_flatten_cancels_then_closes_until_done(trading: Api, system: Services) -> None:
    trading.post("/api/v1/orders", role="trader", json=manual("long", quantity="0.03"))
    drain(system)
    coid = resting_buy(trading, system, "rest-3")
    assert trading.post("/api/v1/flatten", role="trader", json={}).status_code == 403
    first = trading.post("/api/v1/flatten", json={"account": "acct-1"}).json()
    assert first["trading_state"] == "reducing"
    assert first["canceling"] == [coid]
    assert first["waiting"] == [f"acct-1/desk/{BTC}"]
    assert not first["done"]
    assert system.state.trading_state(["account:acct-1"]) == {
        "account:acct-1": TradingState.REDUCING
    }
    drain(system)  # the cancel is carried out; the close waited for it
    assert system.ledger.position("acct-1", "desk", BTC).quantity == D("0.03")
    second = trading.post("/api/v1/flatten", json={"account": "acct-1"}).json()
    assert second["canceling"] == []
    assert len(second["closing"]) == 1
    drain(system)
    assert system.ledger.position("acct-1", "desk", BTC).quantity == 0
    third = trading.post("/api/v1/flatten", json={"account": "acct-1"}).json()
    assert third["done"] is True
    new = trading.post("/api/v1/orders", role="trader", json=manual("after"))
    drain(system)
    assert trading.get(f"/api/v1/orders/{new.json()['client_order_id']}").status_code == 404
    assert system.ledger.position("acct-1", "desk", BTC).quantity == 0  # reducing refused it
    assert len(audited(trading, "account.flatten")) == 3
    assert len(audited(trading, "kill_switch.set")) == 1


def test_sync_reconciles_now(trading: Api, system: Services) -> None:
    trading.post("/api/v1/orders", role="trader", json=manual("s1"))
    drain(system)
    assert trading.post("/api/v1/sync", role="trader", json={}).status_code == 403
    answer = trading.post("/api/v1/sync", json={"account": "acct-1"})
    assert answer.status_code == 202
    assert answer.json()["kind"] == "sync"
    drain(system)
    reports = trading.get("/api/v1/reconciliation/reports").json()["items"]
    assert [r["account"] for r in reports] == ["acct-1"]
    assert trading.post("/api/v1/sync", json={"account": "nope"}).status_code == 404
    assert trading.post("/api/v1/sync", json={}).status_code == 202  # every account
    assert len(audited(trading, "account.sync")) == 2


# --- the command line: views and controls (stratus status, cancel, ...) ---------------


def client(api: Api) -> Remote:
    return Remote("http://testserver", DEV_TOKEN, http=api.client)


def args(**given: Any) -> argparse.Namespace:
    defaults = {"account": None, "json": False, "all": False, "no_wait": False}
    return argparse.Namespace(**{**defaults, **given})


def shown(view: str, api: Api, capsys: pytest.CaptureFixture[str], **given: Any) -> str:
    parser = main.__globals__["parser"]()  # the real command table
    run = parser.parse_args([view]).run
    assert run(args(**given), client(api)) == 0
    return capsys.readouterr().out


def fits(line: str) -> bool:
    """Within 80 columns without being cut."""
    return len(line) <= 80 and not line.endswith("…")


def busy(api: Api, system: Services) -> str:
    """A long position and a resting order; the resting order's id."""
    api.post("/api/v1/orders", role="trader", json=manual("long", quantity="0.03"))
    resting = api.post("/api/v1/orders", role="trader", json=manual("rest", limit_price="1000"))
    drain(system)
    return str(resting.json()["client_order_id"])


def test_status_is_the_whole_picture_in_80_columns(
    trading: Api, system: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    coid = busy(trading, system)
    text = shown("status", trading, capsys)
    assert all(fits(line) for line in text.splitlines()), text
    assert "as token:local-dev-admin (admin)" in text
    assert "Trading    active everywhere" in text
    assert "acct-1 1,000,000.00 USDT" in text
    assert "acct-1/desk" in text
    assert BTC in text
    assert coid[:10] + "…" in text  # the working order, cut to fit
    data = json.loads(shown("status", trading, capsys, json=True))
    assert [p["quantity"] for p in data["positions"]] == ["0.03"]
    assert [o["client_order_id"] for o in data["working_orders"]] == [coid]


@pytest.mark.parametrize("view", ["positions", "orders", "fills", "signals", "pnl"])
def test_each_view_fits_80_columns_and_has_json(
    view: str, trading: Api, system: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    busy(trading, system)
    text = shown(view, trading, capsys)
    assert all(fits(line) for line in text.splitlines()), text
    assert "(none)" not in text
    assert json.loads(shown(view, trading, capsys, json=True))


def test_controls_from_the_command_line(
    trading: Api, system: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    coid = busy(trading, system)
    remote = client(trading)
    assert control.run_cancel(args(client_order_id=coid), remote) == 0
    assert "requested (it was open)" in capsys.readouterr().out
    drain(system)
    closing = args(account="acct-1", strategy="desk", symbol=BTC, quantity="0.01")
    assert control.run_close(closing, remote) == 0
    drain(system)
    assert system.ledger.position("acct-1", "desk", BTC).quantity == D("0.02")
    assert control.run_sync(args(), remote) == 0
    assert "every account" in capsys.readouterr().out
    # Between its rounds flatten waits; here the bus delivers meanwhile, as a stack's does.
    flat = args(account="acct-1")
    assert control.run_flatten(flat, remote, sleep=lambda _s: drain(system)) == 0
    said = capsys.readouterr().out.splitlines()
    assert said[0].startswith("account:acct-1 reducing: canceling 0, closing 1")
    assert said[-1] == "account:acct-1: flat (reducing)"


def test_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["positions", "--manager", "http://127.0.0.1:9", "--token", "x"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith("stratus positions: error: cannot reach the manager")


def test_a_refusal_is_the_managers_reason_on_one_line(
    trading: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(RemoteError, match=r"^404 not_found") as caught:
        control.run_cancel(args(client_order_id="stx-none"), client(trading))
    assert "\n" not in str(caught.value)
