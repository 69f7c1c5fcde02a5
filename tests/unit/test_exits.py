"""Protective exits, pure: a signal's exits, the plan's triggers for a position, and what
brings the working exit orders to the position (stratus.domain.exits)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from pydantic import ValidationError

from stratus.domain.common import Side
from stratus.domain.exits import ExitPlan, converge, exit_signal_id, fired, held_by_exchange
from stratus.domain.orders import ExitKind, OrderRecord
from stratus.domain.positions import Position
from stratus.domain.signals import Signal

NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)
SL, TP = ExitKind.STOP_LOSS, ExitKind.TAKE_PROFIT


def signal(**fields: Any) -> Signal:
    base: dict[str, Any] = {
        "signal_id": "s-1", "source": "t", "account": "a", "strategy": "st",
        "symbol": "BTC/USDT:USDT", "action": "buy", "quantity": "1", "created_at": NOW,
    }  # fmt: skip
    return Signal.model_validate({**base, **fields})


def position(quantity: str, entry: str = "100", at: datetime = NOW) -> Position:
    return Position(
        account="a",
        strategy="st",
        symbol="BTC/USDT:USDT",
        quantity=D(quantity),
        average_entry=D(entry),
        updated_at=at,
    )


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"stop_loss_price": "90", "stop_loss_distance": "5"}, "exit_price_and_distance"),
        ({"take_profit_price": "90", "take_profit_distance": "5"}, "exit_price_and_distance"),
        ({"action": "close", "stop_loss_price": "90"}, "exit_on_close"),
        ({"action": "close", "take_profit_distance": "5"}, "exit_on_close"),
        ({"stop_loss_distance": "0"}, "greater_than"),
        ({"take_profit_price": "1e3"}, None),  # the amount grammar: no exponent
    ],
)
def test_a_signal_refuses_exits_that_cannot_mean_one_thing(
    fields: dict[str, Any], error: str | None
) -> None:
    with pytest.raises(ValidationError) as caught:
        signal(**fields)
    if error is not None:
        assert error in {e["type"] for e in caught.value.errors()}, caught.value.errors()


def test_a_plan_comes_from_an_opening_signal() -> None:
    assert ExitPlan.of(signal(), NOW).has_exits is False  # one that clears the exits
    assert ExitPlan.of(signal(), NOW).triggers(position("1")) == {}
    with pytest.raises(ValueError, match="close"):
        ExitPlan.of(signal(action="close"), NOW)
    plan = ExitPlan.of(signal(action="sell", stop_loss_distance="5"), NOW)
    assert plan.has_exits
    assert (plan.direction, plan.stop_loss_distance, plan.signal_id) == (Side.SELL, D(5), "s-1")


@pytest.mark.parametrize(
    ("action", "quantity", "fields", "expected"),
    [
        ("buy", "2", {"stop_loss_price": "90", "take_profit_price": "120"}, {SL: "90", TP: "120"}),
        (
            "buy",
            "2",
            {"stop_loss_distance": "5", "take_profit_distance": "7"},
            {SL: "95", TP: "107"},
        ),
        (
            "sell",
            "-2",
            {"stop_loss_distance": "5", "take_profit_distance": "7"},
            {SL: "105", TP: "93"},
        ),
        ("sell", "-2", {"take_profit_distance": "100"}, {}),  # would fall to zero: left out
        ("buy", "-2", {"stop_loss_distance": "5"}, {}),  # a flip is not the plan's position
        ("buy", "0", {"stop_loss_distance": "5"}, {}),  # flat
    ],
)
def test_triggers_resolve_distances_from_the_average_entry(
    action: str, quantity: str, fields: dict[str, Any], expected: dict[ExitKind, str]
) -> None:
    plan = ExitPlan.of(signal(action=action, **fields), NOW)
    found = plan.triggers(position(quantity))
    assert found == {kind: D(price) for kind, price in expected.items()}


def test_an_exit_fires_on_the_side_that_protects_the_position() -> None:
    triggers = {SL: D(95), TP: D(110)}
    assert fired(position("1"), triggers, D(96)) == []
    assert fired(position("1"), triggers, D(95)) == [SL]
    assert fired(position("1"), triggers, D(111)) == [TP]
    short = {SL: D(105), TP: D(90)}
    assert fired(position("-1"), short, D(105)) == [SL]
    assert fired(position("-1"), short, D(89)) == [TP]


def record_of(protection_place: Any) -> OrderRecord:
    return OrderRecord.intent(protection_place, NOW)


def test_converge_places_exits_sized_to_the_whole_position_then_keeps_them() -> None:
    held = position("0.3")
    first = converge(held, {SL: D(95), TP: D(110)}, [], "s-1", NOW)
    assert first.cancel == ()
    assert [(r.exit_kind, r.side, r.quantity, r.trigger_price) for r in first.place] == [
        (SL, Side.SELL, D("0.3"), D(95)),
        (TP, Side.SELL, D("0.3"), D(110)),
    ]
    assert all(r.reduce_only and r.signal_id == "s-1" for r in first.place)
    working = [record_of(r) for r in first.place]
    again = converge(held, {SL: D(95), TP: D(110)}, working, "s-1", NOW + timedelta(seconds=5))
    assert (again.place, again.cancel) == ((), ())
    # The same position state names the same orders, whenever it is asked.
    later = converge(held, {SL: D(95), TP: D(110)}, [], "s-1", NOW + timedelta(hours=1))
    assert [r.request_id for r in later.place] == [r.request_id for r in first.place]


def test_converge_resizes_after_a_fill_and_cancels_everything_once_flat() -> None:
    working = [record_of(r) for r in converge(position("0.3"), {SL: D(95)}, [], "s", NOW).place]
    grown = converge(position("0.5", at=NOW + timedelta(minutes=1)), {SL: D(95)}, working, "s", NOW)
    assert grown.cancel == tuple(working)
    [bigger] = grown.place
    assert bigger.quantity == D("0.5")
    assert bigger.request_id != working[0].request.request_id
    flat = converge(position("0", at=NOW + timedelta(minutes=2)), {}, working, "s", NOW)
    assert (flat.cancel, flat.place) == (tuple(working), ())


def test_the_exchange_holds_only_placed_exits_that_fit_the_position() -> None:
    """Where a crossed trigger is left to the exchange: its exit is placed there (it has
    an exchange order id) and fits the position as it is (size, side, trigger)."""
    held, triggers = position("0.3"), {SL: D(95), TP: D(110)}
    intents = [record_of(r) for r in converge(held, triggers, [], "s", NOW).place]
    assert held_by_exchange(held, triggers, intents) == set()  # not placed yet
    placed = [r.model_copy(update={"exchange_order_id": f"e-{n}"}) for n, r in enumerate(intents)]
    assert held_by_exchange(held, triggers, placed) == {SL, TP}
    assert held_by_exchange(position("0.5"), triggers, placed) == set()  # another size
    assert held_by_exchange(held, {SL: D(96), TP: D(110)}, placed) == {TP}  # another stop


def test_a_new_trip_with_the_same_size_gets_new_exit_and_close_ids() -> None:
    one, two = position("1", at=NOW), position("1", at=NOW + timedelta(hours=1))
    ids = [converge(p, {SL: D(95)}, [], "s", NOW).place[0].request_id for p in (one, two)]
    assert ids[0] != ids[1]
    assert exit_signal_id(one, SL) != exit_signal_id(two, SL)
    assert exit_signal_id(one, SL) == exit_signal_id(position("1", at=NOW), SL)
    assert exit_signal_id(one, SL) != exit_signal_id(one, TP)


def test_describe_says_the_exit_as_the_signal_did() -> None:
    plan = ExitPlan.of(signal(action="sell", stop_loss_distance="5", take_profit_price="80"), NOW)
    assert (plan.describe(SL), plan.describe(TP)) == ("entry + 5", "80")
