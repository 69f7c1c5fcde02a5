"""Position arithmetic: adds, partial closes, flips, fees, and replay agreement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from stratus.domain.common import Side
from stratus.domain.orders import Fill, Liquidity
from stratus.domain.portfolio import portfolio_metrics
from stratus.domain.positions import Position, replay

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def fill(n: int, side: Side, qty: str, price: str, fee: str = "0") -> Fill:
    return Fill(
        fill_id=f"f{n}",
        client_order_id=f"c{n}",
        exchange_order_id=f"e{n}",
        request_id=f"r{n}",
        account="a",
        strategy="s",
        symbol="BTC/USDT:USDT",
        side=side,
        quantity=D(qty),
        price=D(price),
        fee=D(fee),
        fee_currency="USDT",
        liquidity=Liquidity.TAKER,
        executed_at=T0 + timedelta(minutes=n),
    )


def flat() -> Position:
    return Position(account="a", strategy="s", symbol="BTC/USDT:USDT")


def test_adding_averages_the_entry() -> None:
    p = flat().apply(fill(1, Side.BUY, "1", "100")).apply(fill(2, Side.BUY, "3", "200"))
    assert p.quantity == D(4)
    assert p.average_entry == D(175)
    assert p.realized_pnl == 0


def test_partial_close_realizes_at_entry_and_keeps_it() -> None:
    p = (
        flat()
        .apply(fill(1, Side.BUY, "2", "100", "0.5"))
        .apply(fill(2, Side.SELL, "0.5", "120", "0.1"))
    )
    assert p.quantity == D("1.5")
    assert p.average_entry == D(100)
    assert p.realized_pnl == D(10)
    assert p.fees == D("0.6")


def test_short_profits_when_price_falls() -> None:
    p = flat().apply(fill(1, Side.SELL, "2", "100")).apply(fill(2, Side.BUY, "2", "90"))
    assert p.quantity == 0
    assert p.realized_pnl == D(20)
    assert p.average_entry == 0
    assert not p.is_open


def test_flip_long_to_short_and_back() -> None:
    p = flat().apply(fill(1, Side.BUY, "1", "100"))
    p = p.apply(fill(2, Side.SELL, "3", "110"))  # close 1 at +10, open 2 short at 110
    assert (p.quantity, p.average_entry, p.realized_pnl) == (D(-2), D(110), D(10))
    p = p.apply(fill(3, Side.BUY, "5", "100"))  # close 2 short at +20, open 3 long at 100
    assert (p.quantity, p.average_entry, p.realized_pnl) == (D(3), D(100), D(30))


def test_unrealized_pnl_is_signed() -> None:
    long = flat().apply(fill(1, Side.BUY, "2", "100"))
    short = flat().apply(fill(1, Side.SELL, "2", "100"))
    assert long.unrealized_pnl(D(90)) == D(-20)
    assert short.unrealized_pnl(D(90)) == D(20)


def test_replay_matches_incremental_application_in_any_arrival_order() -> None:
    fills = [
        fill(1, Side.BUY, "1", "100"),
        fill(2, Side.SELL, "3", "110", "1"),
        fill(3, Side.BUY, "1", "105", "0.2"),
    ]
    incremental = flat()
    for f in fills:
        incremental = incremental.apply(f)
    recomputed = replay(list(reversed(fills)), "a", "s", "BTC/USDT:USDT")
    assert recomputed.model_dump() == incremental.model_dump()


def test_portfolio_metrics_add_up() -> None:
    btc = flat().apply(fill(1, Side.BUY, "1", "100", "1"))
    eth = Position(account="a", strategy="s", symbol="ETH/USDT:USDT").apply(
        fill(2, Side.SELL, "2", "50", "1").model_copy(update={"symbol": "ETH/USDT:USDT"})
    )
    closed = flat().apply(fill(3, Side.BUY, "1", "100")).apply(fill(4, Side.SELL, "1", "130"))
    m = portfolio_metrics([btc, eth, closed], {"BTC/USDT:USDT": D(110), "ETH/USDT:USDT": D(40)})
    assert (m.open_positions, m.closed_positions) == (2, 1)
    assert m.gross_exposure == D(110 + 80)
    assert m.net_exposure == D(110 - 80)
    assert m.unrealized_pnl == D(10 + 20)
    assert m.realized_pnl == D(30)
    assert m.net_pnl == D(30 + 30 - 2)


@pytest.mark.parametrize("qty", ["0", "-1"])
def test_fills_need_positive_quantities(qty: str) -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        fill(1, Side.BUY, qty, "100")
