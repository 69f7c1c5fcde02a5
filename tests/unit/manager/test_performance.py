"""Trade statistics, the portfolio summary, exposure and quota rules (pure domain)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from stratus.domain.accounts import check_allocations
from stratus.domain.common import Side
from stratus.domain.orders import Fill, Liquidity
from stratus.domain.performance import (
    TrackedPosition,
    asset_of,
    exposure_by_asset,
    mode_of,
    summarize,
)
from stratus.domain.positions import Position
from stratus.domain.quotas import Quota, QuotaUsage, refusal
from stratus.domain.records import Conflict

AT = datetime(2026, 1, 1, tzinfo=UTC)
D = Decimal


def fill(n: int, side: str, quantity: str, price: str, symbol: str = "BTC/USDT") -> Fill:
    return Fill(
        fill_id=f"f{n}",
        client_order_id=f"c{n}",
        exchange_order_id=f"e{n}",
        request_id=f"r{n}",
        account="a",
        strategy="s",
        symbol=symbol,
        side=Side(side),
        quantity=D(quantity),
        price=D(price),
        fee=D(0),
        fee_currency="USDT",
        liquidity=Liquidity.TAKER,
        executed_at=AT,
    )


def flat(symbol: str = "BTC/USDT") -> TrackedPosition:
    return TrackedPosition(Position(account="a", strategy="s", symbol=symbol))


def test_closing_fills_count_wins_and_losses() -> None:
    tracked = flat()
    for item in [
        fill(1, "buy", "2", "100"),
        fill(2, "sell", "1", "110"),  # +10
        fill(3, "sell", "1", "95"),  # -5, now flat
        fill(4, "sell", "1", "90"),  # opens a short: not a closing fill
        fill(5, "buy", "1", "80"),  # +10 on the short
    ]:
        tracked = tracked.apply(item)
    assert (tracked.closing_fills, tracked.winning_fills) == (3, 2)
    assert (tracked.gross_profit, tracked.gross_loss) == (D(20), D(5))
    assert tracked.position.realized_pnl == D(15)


def test_summary_rates_and_risk() -> None:
    btc = flat().apply(fill(1, "buy", "1", "100")).apply(fill(2, "sell", "0.5", "120"))
    btc = btc.apply(fill(3, "buy", "0.5", "100"))  # 1 BTC at avg 100
    eth = flat("ETH/USDT").apply(fill(4, "sell", "10", "10"))  # short 10 ETH at 10
    loser = flat("SOL/USDT").apply(fill(5, "buy", "1", "50")).apply(fill(6, "sell", "1", "40"))
    marks = {"BTC/USDT": D(80), "ETH/USDT": D(10)}  # BTC down 20%: at risk at 5%
    result = summarize([btc, eth, loser], marks, D("0.05"))
    assert result.metrics.open_positions == 2
    assert result.metrics.closed_positions == 1
    assert result.largest_position_share == D(100) / D(180)  # the ETH short
    assert result.positions_at_risk == 1
    assert result.metrics.gross_exposure == D(180)
    assert result.metrics.net_exposure == D(-20)


def test_summary_of_nothing_has_no_rates() -> None:
    result = summarize([], {}, D("0.05"))
    assert result.largest_position_share is None


def test_exposure_by_asset_splits_long_and_short() -> None:
    positions = [
        Position(
            account="a", strategy="s1", symbol="BTC/USDT", quantity=D(1), average_entry=D(100)
        ),
        Position(
            account="a", strategy="s2", symbol="BTC/USDT:USDT", quantity=D(-2), average_entry=D(100)
        ),
        Position(account="a", strategy="s1", symbol="ETH/USDT", quantity=D(0)),
    ]
    [btc] = exposure_by_asset(positions, {"BTC/USDT": D(110)})
    assert (btc.long, btc.short, btc.net, btc.gross) == (D(110), D(200), D(-90), D(310))
    assert btc.share == D(1)


def test_asset_and_mode_come_from_the_unified_symbol() -> None:
    assert (asset_of("BTC/USDT"), mode_of("BTC/USDT")) == ("BTC", "spot")
    assert (asset_of("ETH/USDT:USDT"), mode_of("ETH/USDT:USDT")) == ("ETH", "swap")


def quota(**limits: object) -> Quota:
    return Quota(account="a", strategy="s", updated_at=AT, version=1, **limits)


@pytest.mark.parametrize(
    ("limits", "usage", "notional", "reason"),
    [
        ({}, QuotaUsage(D(10**9), 10**6, D(-(10**9))), D(10**9), None),
        (
            {"max_order_notional": D(100)},
            QuotaUsage(D(0), 0, D(0)),
            D(101),
            "quota_max_order_notional",
        ),
        ({"max_notional": D(100)}, QuotaUsage(D(60), 1, D(0)), D(40), None),
        ({"max_notional": D(100)}, QuotaUsage(D(60), 1, D(0)), D(41), "quota_max_notional"),
        ({"max_open_orders": 2}, QuotaUsage(D(0), 2, D(0)), D(1), "quota_max_open_orders"),
        ({"max_daily_loss": D(50)}, QuotaUsage(D(0), 0, D(-50)), D(1), "quota_max_daily_loss"),
        ({"max_daily_loss": D(50)}, QuotaUsage(D(0), 0, D(-49)), D(1), None),
    ],
)
def test_quota_refusals(
    limits: dict[str, object], usage: QuotaUsage, notional: Decimal, reason: str | None
) -> None:
    assert refusal(quota(**limits), usage, notional) == reason


def test_allocations_may_not_exceed_equity() -> None:
    check_allocations([D(60), D(40)], D(100), "USDT")
    with pytest.raises(Conflict, match="allocation_exceeds_equity"):
        check_allocations([D(60), D("40.01")], D(100), "USDT")
