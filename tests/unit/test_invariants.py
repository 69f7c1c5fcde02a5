"""The chaos tier's invariants (tests/invariants.py) pass a consistent run and name each
kind of damage: every check can fail."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import pytest

from stratus.domain.common import Side
from stratus.domain.orders import (
    ExchangeOrder,
    Liquidity,
    OrderRecord,
    OrderRejection,
    OrderRequest,
    OrderStatus,
    OrderType,
)
from stratus.domain.positions import Position, replay
from stratus.domain.signals import Signal
from tests.invariants import DeadLetter, LedgerOrder, Observed, summary, violations
from tests.invariants import ExchangeOrder as Listed

T0 = datetime(2026, 1, 5, 10, tzinfo=UTC)
BTC = "BTC/USDT:USDT"


def signal(sid: str, action: str = "buy") -> Signal:
    quantity = None if action == "close" else D("1")
    return Signal(
        signal_id=sid, source="t", account="a", strategy="st", symbol=BTC,
        action=action, quantity=quantity, created_at=T0,
    )  # fmt: skip


def request(sid: str, leg: int = 0) -> OrderRequest:
    return OrderRequest(
        request_id=f"{sid}-{leg}", signal_id=sid, leg=leg, account="a", strategy="st",
        symbol=BTC, side=Side.BUY, order_type=OrderType.MARKET, quantity=D("1"), created_at=T0,
    )  # fmt: skip


def filled(sid: str) -> OrderRecord:
    seen = ExchangeOrder(
        exchange_order_id=f"x-{sid}", status=OrderStatus.FILLED, filled=D("1"),
        cost=D("60000"), fee=D("6"), fee_currency="USDT", liquidity=Liquidity.TAKER,
        updated_at=T0,
    )  # fmt: skip
    return OrderRecord.intent(request(sid), T0).observe(seen, T0)


@pytest.fixture
def clean() -> Observed:
    """s1 filled, s2 rejected by risk, s3 dead-lettered, s4 a close of nothing."""
    order = filled("s1")
    fills = list(order.fills)
    position = replay(fills, "a", "st", BTC)
    return Observed(
        signals=[signal("s1"), signal("s2"), signal("s3"), signal("s4", "close")],
        processed={"s1", "s2", "s4"},
        documents=[order],
        ledger_orders=[
            LedgerOrder(order.client_order_id, "s1-0", "x-s1", OrderStatus.FILLED, D("1"))
        ],
        fills=fills,
        positions=[position],
        exchange_orders=[
            Listed("a", order.client_order_id, "x-s1", BTC, OrderStatus.FILLED, D("1"))
        ],
        exchange_positions={("a", BTC): D("1")},
        held_reservations=set(),
        rejections=[OrderRejection.of(request("s2"), "max_order_notional", "too big", T0)],
        dead_letters=[
            DeadLetter("signals-dead-letter", b'{"signal_id": "s3"}', {"reason": "unknown_symbol"})
        ],
        reconcile_report={"accounts": {"a": {"drifts": []}}, "failed": {}},
    )


def test_a_consistent_run_breaks_nothing(clean: Observed) -> None:
    assert violations(clean) == {}
    assert summary(clean, {}) == "no violation"


def broken(observed: Observed, **changes: Any) -> dict[str, list[str]]:
    return violations(dataclasses.replace(observed, **changes))


def test_an_exchange_order_stratus_does_not_know_is_found(clean: Observed) -> None:
    stray = Listed("a", "stx-stray", "x-9", BTC, OrderStatus.FILLED, D("1"))
    found = broken(clean, exchange_orders=[*clean.exchange_orders, stray])
    assert found["one_exchange_order_per_leg"] == ["exchange order stx-stray is unknown to Stratus"]


def test_a_signal_lost_or_decided_twice_is_found(clean: Observed) -> None:
    found = broken(
        clean,
        processed={"s1", "s2"},  # s4 never processed
        rejections=[*clean.rejections, *clean.rejections],  # s2 rejected twice
        dead_letters=[DeadLetter("signals-dead-letter", b'{"signal_id": "s3"}', {})],
    )
    assert found["every_signal_has_one_outcome"] == [
        'a dead letter on signals-dead-letter has no reason: b\'{"signal_id": "s3"}\'',
        "signal s2 leg 0 ended 2 times rejected and 0 dead-lettered",
        "signal s4 (close) was never processed",
    ]


def test_an_order_left_pending_after_its_dead_letter_is_found(clean: Observed) -> None:
    pending = OrderRecord.intent(request("s3"), T0)
    letter = DeadLetter(
        "orders-dead-letter",
        b'{"signal_id": "s3", "request_id": "s3-0"}',
        {"reason": "max_delivery_attempts"},
    )
    found = broken(clean, documents=[*clean.documents, pending], dead_letters=[letter])
    assert found["every_signal_has_one_outcome"] == [
        f"signal s3 leg 0: order {pending.client_order_id} is still pending"
    ]


def test_a_fill_missing_or_booked_twice_is_found(clean: Observed) -> None:
    assert "every_fill_applied_once" in broken(clean, fills=[])
    twice = broken(clean, fills=[*clean.fills, *clean.fills])
    assert twice["every_fill_applied_once"] == [
        f"order {clean.documents[0].client_order_id}: the ledger books 2 filled, the exchange 1"
    ]


def test_an_order_missing_from_the_ledger_is_found(clean: Observed) -> None:
    found = broken(clean, ledger_orders=[])
    coid = clean.documents[0].client_order_id
    assert found["ledger_orders_match_exchange"] == [
        f"exchange order {coid} is not in the orders ledger"
    ]


def test_positions_off_their_fills_or_the_exchange_are_found(clean: Observed) -> None:
    drifted = broken(clean, exchange_positions={("a", BTC): D("0.8")})
    assert drifted["positions_replay_fills_and_match_exchange"] == [
        f"a {BTC}: the ledger nets 1, the exchange 0.8"
    ]
    wrong = Position(account="a", strategy="st", symbol=BTC, quantity=D("2"), fees=D("6"))
    off = broken(clean, positions=[wrong])
    assert off["positions_replay_fills_and_match_exchange"][0].startswith(
        f"position a/st/{BTC} is 2 (fees 6), its fills replay to 1"
    )


def test_a_reservation_held_by_a_final_order_is_found(clean: Observed) -> None:
    found = broken(clean, held_reservations={"s1-0", "s2-0"})
    assert found["no_reservation_held_by_a_final_order"] == [
        "the quota reservation of s1-0 is still held by a filled order",
        "the quota reservation of s2-0 is still held by a request that never became an order",
    ]


def test_a_reconciliation_that_found_drift_is_found(clean: Observed) -> None:
    report = {"accounts": {"a": {"drifts": [{"symbol": BTC}]}}, "failed": {"b": "down"}}
    found = broken(clean, reconcile_report=report)
    assert found["reconciliation_is_clean"] == [
        "reconcile failed for b: down",
        f"reconcile found drifts on a: [{{'symbol': '{BTC}'}}]",
    ]
