"""Protective exits: a strategy position's stop loss and take profit. Pure.

An opening signal may carry them (stratus.domain.signals.Signal), each as a trigger
price or as a distance from the position's average entry. The latest opening signal that
carries exits sets the position's plan; one without leaves it, unless it opens a new
position: then the plan is cleared (kept without exits, so that whatever still works of
the old one is found and canceled). A plan protects only a position in its own
direction (a flip is not protected by the exits of the side it left).

`converge` decides, from the position, its trigger prices and its working exit orders,
what to cancel and what to place, so that the exits always cover the whole position and
none remain once it is flat. Request ids derive from the position's state, so every copy
of whatever asks for protection names the same exchange orders.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from stratus.domain.common import ZERO, Side
from stratus.domain.orders import ExitKind, OrderRecord, OrderRequest, OrderType
from stratus.domain.positions import Position
from stratus.domain.signals import Signal, SignalAction

# Close signals an exit sends (watched exits, or one already crossed when placed).
EXIT_SOURCE = "stratus-exits"


class ExitPlan(BaseModel):
    """What the latest opening signal with exits asked for one strategy position."""

    model_config = ConfigDict(frozen=True)

    account: str
    strategy: str
    symbol: str
    direction: Side  # of the signal that set it: BUY protects a long, SELL a short
    stop_loss_price: Decimal | None = None
    stop_loss_distance: Decimal | None = None
    take_profit_price: Decimal | None = None
    take_profit_distance: Decimal | None = None
    signal_id: str
    set_at: AwareDatetime

    @classmethod
    def of(cls, signal: Signal, at: datetime) -> ExitPlan:
        """The plan an opening signal sets (without exits if it carries none)."""
        if signal.action.side is None:
            raise ValueError("a close sets no exits")
        return cls(
            account=signal.account,
            strategy=signal.strategy,
            symbol=signal.symbol,
            direction=signal.action.side,
            stop_loss_price=signal.stop_loss_price,
            stop_loss_distance=signal.stop_loss_distance,
            take_profit_price=signal.take_profit_price,
            take_profit_distance=signal.take_profit_distance,
            signal_id=signal.signal_id,
            set_at=at,
        )

    @property
    def has_exits(self) -> bool:
        return any(
            value is not None
            for value in (
                self.stop_loss_price,
                self.stop_loss_distance,
                self.take_profit_price,
                self.take_profit_distance,
            )
        )

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.account, self.strategy, self.symbol)

    def triggers(self, position: Position) -> dict[ExitKind, Decimal]:
        """Each exit's trigger price for this position: none while it is flat or runs
        against the plan's direction; a distance counts from its average entry (a stop
        that would fall to zero or below is left out)."""
        if position.quantity * self.direction.sign <= ZERO:
            return {}
        found: dict[ExitKind, Decimal] = {}
        for kind, price, distance, toward in (
            (ExitKind.STOP_LOSS, self.stop_loss_price, self.stop_loss_distance, -1),
            (ExitKind.TAKE_PROFIT, self.take_profit_price, self.take_profit_distance, 1),
        ):
            if distance is not None:
                price = position.average_entry + distance * toward * self.direction.sign
            if price is not None and price > ZERO:
                found[kind] = price
        return found

    def describe(self, kind: ExitKind) -> str:
        """As the signal said it: "65000" or "entry - 500"."""
        price, distance = (
            (self.stop_loss_price, self.stop_loss_distance)
            if kind is ExitKind.STOP_LOSS
            else (self.take_profit_price, self.take_profit_distance)
        )
        if price is not None:
            return str(price)
        if distance is None:
            return ""
        below = (kind is ExitKind.STOP_LOSS) == (self.direction is Side.BUY)
        return f"entry {'-' if below else '+'} {distance}"


def exit_side(position: Position) -> Side:
    """The side that takes the position off."""
    return Side.SELL if position.quantity > ZERO else Side.BUY


def fired(
    position: Position, triggers: Mapping[ExitKind, Decimal], mark: Decimal
) -> list[ExitKind]:
    """The exits whose trigger `mark` has reached."""
    side = exit_side(position)
    return [kind for kind, trigger in triggers.items() if kind.fires(side, trigger, mark)]


def generation(position: Position, *parts: object) -> str:
    """A short digest of the position's state (its size and last fill) and `parts`:
    the same state always yields the same ids, a new fill new ones."""
    stamp = position.updated_at.isoformat() if position.updated_at else ""
    text = "|".join(
        str(part)
        for part in (position.account, position.strategy, position.symbol, position.quantity)
    )
    text += "|" + stamp + "|" + "|".join(str(part) for part in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def exit_signal_id(position: Position, kind: ExitKind) -> str:
    """The close signal an exit sends for this position state: once, whoever sends it."""
    return f"exit-{kind.value}-{generation(position, kind.value)}"


def close_signal(position: Position, kind: ExitKind, at: datetime) -> Signal:
    return Signal(
        signal_id=exit_signal_id(position, kind),
        source=EXIT_SOURCE,
        account=position.account,
        strategy=position.strategy,
        symbol=position.symbol,
        action=SignalAction.CLOSE,
        created_at=at,
    )


@dataclass(frozen=True)
class Protection:
    """What brings the working exits to the position's plan."""

    cancel: tuple[OrderRecord, ...] = ()
    place: tuple[OrderRequest, ...] = ()


def is_exit_of(record: OrderRecord, key: tuple[str, str, str]) -> bool:
    request = record.request
    return (
        request.exit_kind is not None
        and (
            request.account,
            request.strategy,
            request.symbol,
        )
        == key
    )


def _fits(record: OrderRecord, position: Position, triggers: Mapping[ExitKind, Decimal]) -> bool:
    """The exit is one the position wants: its kind, the whole position's size, the
    trigger wanted."""
    request = record.request
    kind = request.exit_kind
    if kind is None or kind not in triggers:
        return False
    wanted = (exit_side(position), abs(position.quantity), triggers[kind])
    return (request.side, request.quantity, request.trigger_price) == wanted


def held_by_exchange(
    position: Position, triggers: Mapping[ExitKind, Decimal], working: Sequence[OrderRecord]
) -> set[ExitKind]:
    """The exits the exchange holds for the position as it is: placed (it has them) and
    fitting. The exchange fires those itself when its mark reaches their trigger."""
    return {
        kind
        for record in working
        if (kind := record.request.exit_kind) is not None
        and record.exchange_order_id is not None
        and _fits(record, position, triggers)
    }


def converge(
    position: Position,
    triggers: Mapping[ExitKind, Decimal],
    working: Sequence[OrderRecord],
    signal_id: str,
    now: datetime,
) -> Protection:
    """Exits sized to the whole position at `triggers`: working ones that match are
    kept, the others canceled (all of them once the position is flat), missing ones
    placed as reduce-only market orders waiting for their trigger."""
    side, size = exit_side(position), abs(position.quantity)
    wanted = {kind: trigger for kind, trigger in triggers.items() if size > ZERO}
    keep: set[ExitKind] = set()
    cancel: list[OrderRecord] = []
    for record in working:
        kind = record.request.exit_kind
        if kind is not None and kind not in keep and _fits(record, position, wanted):
            keep.add(kind)
        else:
            cancel.append(record)
    place = tuple(
        OrderRequest(
            request_id=f"x-{kind.value}-{generation(position, kind.value, trigger)}",
            signal_id=signal_id,
            leg=0,
            account=position.account,
            strategy=position.strategy,
            symbol=position.symbol,
            side=side,
            order_type=OrderType.MARKET,
            quantity=size,
            reduce_only=True,
            exit_kind=kind,
            trigger_price=trigger,
            created_at=now,
        )
        for kind, trigger in wanted.items()
        if kind not in keep
    )
    return Protection(cancel=tuple(cancel), place=place)
