"""The snapshot endpoint: once per Cloud Scheduler schedule time, every account."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from stratus.adapters.sql.ledger import SqlLedger
from stratus.adapters.sql.tables import BalanceSnapshotRow
from stratus.domain.accounts import AssetBalance
from stratus.domain.common import Side
from stratus.domain.orders import Fill, Liquidity, OrderRequest, OrderType
from stratus.ports import BalanceTotals
from stratus.service.handlers import operations
from stratus.service.services import Services

AT = {"X-CloudScheduler-ScheduleTime": "2026-01-01T00:15:00+00:00"}
SCHEDULED = datetime.fromisoformat(AT["X-CloudScheduler-ScheduleTime"])


def stored_balances(services: Services) -> dict[tuple[datetime, str, str], Decimal]:
    assert isinstance(services.ledger, SqlLedger)
    with services.ledger.database.transaction() as session:
        rows = session.scalars(select(BalanceSnapshotRow)).all()
        return {(row.taken_at, row.account, row.asset): row.total for row in rows}


def order(request_id: str, symbol: str) -> OrderRequest:
    return OrderRequest(
        request_id=request_id,
        signal_id=request_id,
        leg=0,
        account="acct",
        strategy="trend",
        symbol=symbol,
        side=Side.SELL,
        order_type=OrderType.MARKET,
        quantity=Decimal("1"),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_a_schedule_time_is_snapshotted_once(services: Services) -> None:
    services.exchanges.for_account("acct").place(order("s-1", "ETH/USDT:USDT"))
    first = operations.snapshot(services, AT, b"")
    again = operations.snapshot(services, AT, b"")
    assert first.status == 201
    assert first.body["accounts"]["acct"]["positions"] == {"ETH/USDT:USDT": "-1.00"}
    assert Decimal(first.body["accounts"]["acct"]["balances"]["USDT"]) > 0
    assert again.status == 200
    assert again.body["created"] is False


def test_the_exchange_balances_are_stored_with_the_snapshot(services: Services) -> None:
    wallet = services.exchanges.for_account("acct").balances()
    reported = operations.snapshot(services, AT, b"").body["accounts"]["acct"]["balances"]
    assert reported == {"USDT": str(wallet["USDT"])}
    assert stored_balances(services) == {(SCHEDULED, "acct", "USDT"): wallet["USDT"]}


def test_dust_beyond_what_the_ledger_keeps_is_rounded(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    venue = services.exchanges.for_account("acct")
    dust = [
        AssetBalance(asset="USDT", free=Decimal("100.5"), used=Decimal(0), total=Decimal("100.5")),
        AssetBalance(
            asset="BNB",
            free=Decimal("1.2345678901234567E-5"),
            used=Decimal(0),
            total=Decimal("1.2345678901234567E-5"),
        ),
    ]
    monkeypatch.setattr(venue, "wallet", lambda: dust)
    assert operations.snapshot(services, AT, b"").status == 201
    assert stored_balances(services) == {
        (SCHEDULED, "acct", "USDT"): Decimal("100.5"),
        (SCHEDULED, "acct", "BNB"): Decimal("0.000012345678901235"),
    }


def test_a_mark_with_more_places_than_the_ledger_keeps_is_rounded(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tiny price's mid has more than 18 places; the manager would refuse it."""
    services.ledger.apply_fill(
        Fill(
            fill_id="f-1",
            client_order_id="m-1",
            exchange_order_id="x-1",
            request_id="m-1",
            account="acct",
            strategy="trend",
            symbol="ETH/USDT:USDT",
            side=Side.BUY,
            quantity=Decimal("1"),
            price=Decimal("2000"),
            fee=Decimal("0"),
            fee_currency="USDT",
            liquidity=Liquidity.TAKER,
            executed_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
    )
    venue = services.exchanges.for_account("acct")
    touch = replace(
        venue.quote("ETH/USDT:USDT"),
        bid=Decimal("1.2345678901234567E-8"),
        ask=Decimal("1.2345678901234568E-8"),
    )
    monkeypatch.setattr(venue, "quote", lambda symbol: touch)
    recorded: list[Mapping[str, Decimal]] = []
    keep = services.ledger.record_snapshot

    def record_snapshot(at: datetime, marks: Mapping[str, Decimal], b: BalanceTotals) -> bool:
        recorded.append(marks)
        return keep(at, marks, b)

    monkeypatch.setattr(services.ledger, "record_snapshot", record_snapshot)
    assert operations.snapshot(services, AT, b"").status == 201
    assert recorded == [{"ETH/USDT:USDT": Decimal("0.000000012345678901")}]


def test_a_schedule_time_without_a_timezone_is_refused(services: Services) -> None:
    result = operations.snapshot(
        services, {"X-CloudScheduler-ScheduleTime": "2026-01-01T00:15"}, b""
    )
    assert result.status == 400
    assert result.body["error"] == "bad_schedule_time"
