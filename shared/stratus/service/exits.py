"""Protective exits (docs/exits.md): kept per strategy position, brought to the
position after every fill of it, checked against marks where the venue cannot hold them.

Everything derives from durable state: the position (the ledger), its plan and its
working exit orders (the state store). `protect` is idempotent, so update_position asks
for it after every fill (a `protect` control), the sweep asks again as the backstop, and
any copy of either finds the same work done or finishes it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from stratus.domain.common import ZERO
from stratus.domain.control import Control, ControlKind
from stratus.domain.errors import ConcurrentUpdate, ExchangeError, PermanentError
from stratus.domain.exits import (
    ExitPlan,
    close_signal,
    converge,
    exit_side,
    exit_signal_id,
    fired,
    held_by_exchange,
    is_exit_of,
)
from stratus.domain.market import Market
from stratus.domain.orders import ExitKind, Fill, OrderRecord, OrderRequest, OrderStatus
from stratus.domain.positions import Position
from stratus.domain.signals import Signal
from stratus.observability import log_fields
from stratus.ports import Venue
from stratus.service.outbox import finish, observe
from stratus.service.services import Services

log = logging.getLogger(__name__)

PROTECTOR = "stratus"  # requested_by of the protect controls update_position sends
SUCCESSORS = 5  # bounds how often an exit that never reached the exchange is asked again


def keep_exits(services: Services, signal: Signal) -> None:
    """Before any order of an opening signal can fill: its exits become the position's
    plan. One without exits clears a plan that has some only if it opens a new position
    (nothing held nor coming): one read, and a write only then."""
    if not signal.has_exits:
        kept = services.state.exit_plan(signal.account, signal.strategy, signal.symbol)
        if kept is None or not kept.has_exits or _will_hold(services, signal) != ZERO:
            return
    services.state.save_exit_plan(ExitPlan.of(signal, services.clock.now()))


def _will_hold(services: Services, signal: Signal) -> Decimal:
    from stratus.service.handlers.signals import will_hold

    return will_hold(services, signal)


def protect_message(fill: Fill, at: datetime) -> Control:
    """The control update_position sends after a fill: bring that position's exits to it."""
    return Control(
        control_id=f"protect-{fill.fill_id}",
        kind=ControlKind.PROTECT,
        account=fill.account,
        strategy=fill.strategy,
        symbol=fill.symbol,
        requested_by=PROTECTOR,
        requested_at=at,
    )


def protect(services: Services, account: str, strategy: str, symbol: str) -> None:
    """Bring the position's working exits to its plan: sized to the whole position,
    none once it is flat. A trigger the mark has already crossed closes the position at
    once (a close signal, through risk like any close). On a venue without conditional
    orders nothing rests on the exchange: the watcher checks marks (`check_marks`)."""
    key = (account, strategy, symbol)
    plan = services.state.exit_plan(*key)
    if plan is None:
        return  # never had exits (a plan is cleared, never deleted): none can work
    working = [r for r in services.state.orders(account, live=True) if is_exit_of(r, key)]
    if not plan.has_exits and not working:
        return
    position = services.ledger.position(*key)
    venue = services.exchanges.for_account(account)
    triggers = triggers_of(plan, position, venue.market(symbol)) if position.is_open else {}
    if triggers:
        crossed = fired(position, triggers, venue.quote(symbol).mid)
        if crossed and venue.conditional_orders:
            # The exchange may have fired its exit already, unseen yet: closing as well
            # would sell twice (the close then finds nothing to reduce and opens the
            # other side). Ask it first.
            working, fired_meanwhile = _follow_exits(services, venue, working)
            if fired_meanwhile:
                return  # its fill brings protection here again
            held = held_by_exchange(position, triggers, working)
            crossed = [kind for kind in crossed if kind not in held]  # the exchange's to fire
        if crossed:
            exit_now(services, position, crossed[0])
            return  # the close's fill brings protection here again, flat by then
    if not venue.conditional_orders:
        triggers = {}  # watched, not placed
    now = services.clock.now()
    protection = converge(position, triggers, working, plan.signal_id, now)
    why = "exit_resized" if position.is_open else "position_closed"
    for record in protection.cancel:
        _cancel(services, record, why)
    for request in protection.place:
        place_exit(services, request)


def _follow_exits(
    services: Services, venue: Venue, working: list[OrderRecord]
) -> tuple[list[OrderRecord], bool]:
    """The working exits as the exchange has them now (each placed one looked up, what
    it says saved and its fills published), and whether one of them filled meanwhile."""
    still, filled = [], False
    for record in working:
        if record.exchange_order_id is not None:
            seen = venue.lookup(record.client_order_id, record.request.symbol)
            if seen is not None:
                updated = finish(services, observe(services, record, seen))
                filled = filled or updated.filled > record.filled
                record = updated
        if not record.status.is_terminal:
            still.append(record)
    return still, filled


def triggers_of(plan: ExitPlan, position: Position, market: Market) -> dict[ExitKind, Decimal]:
    """The plan's triggers for the position, on the market's price steps."""
    if not position.is_open:
        return {}
    side = exit_side(position)
    rounded = {kind: market.round_price(p, side) for kind, p in plan.triggers(position).items()}
    return {kind: price for kind, price in rounded.items() if price > ZERO}


def place_exit(services: Services, request: OrderRequest) -> None:
    """Through the executor's own path: the intent first (a copy finds it), then the
    `orders` message, which execute_order places exactly once. Exits reduce risk: they
    take no quota and skip check_risk. An intent of the same name that never reached
    the exchange is followed by a numbered successor, the same one whoever asks."""
    base = request.request_id
    for successor in range(2, SUCCESSORS + 2):
        if services.state.create_order(OrderRecord.intent(request, services.clock.now())):
            break
        found = services.state.get_order(request.client_order_id)
        if found is None or not _never_placed(found):
            break
        request = request.model_copy(update={"request_id": f"{base}-{successor}"})
    else:
        log.warning("exit never reached the exchange", extra=log_fields(request=base))
        return  # every successor too: left to the next fill (a new position state)
    services.publish("orders", request)
    log.info(
        "exit placed",
        extra=log_fields(
            client_order_id=request.client_order_id,
            exit_kind=request.exit_kind,
            trigger=str(request.trigger_price),
            quantity=str(request.quantity),
        ),
    )


def _never_placed(record: OrderRecord) -> bool:
    """Final without the exchange ever having it (its message lost or stale, or the
    exchange refused it, as Bybit does a trigger the mark reached meanwhile): no copy of
    its message will place it. A dry run is final by design."""
    final = record.status.is_terminal and record.status is not OrderStatus.DRY_RUN
    return final and record.exchange_order_id is None and record.filled == ZERO


def _cancel(services: Services, record: OrderRecord, why: str) -> None:
    from stratus.service.handlers.control import cancel_order

    cancel_order(services, record, why, "its position moved on")


def exit_now(services: Services, position: Position, kind: ExitKind) -> None:
    """Close the position: one close signal per position state, whoever sends it."""
    signal = close_signal(position, kind, services.clock.now())
    services.publish("signals", signal)
    log.info(
        "exit triggered",
        extra=log_fields(signal_id=signal.signal_id, exit_kind=kind, symbol=position.symbol),
    )


def protected(services: Services, positions: Iterable[Position]) -> list[tuple[ExitPlan, Position]]:
    """The open ones of `positions` that have exits, each with its plan."""
    plans = {plan.key: plan for plan in services.state.exit_plans()}
    return [
        (plans[key], position)
        for position in positions
        if position.is_open
        and (key := (position.account, position.strategy, position.symbol)) in plans
    ]


def check_marks(
    services: Services,
    watched: Iterable[tuple[ExitPlan, Position]],
    marks: Mapping[str, Decimal],
    sent: set[str],
) -> None:
    """Watched exits (venues without conditional orders): a mark (by symbol) past a
    trigger closes the position. `sent` holds the close signals already sent, so a
    run of marks past the trigger sends one (its id deduplicates any other copy)."""
    for plan, position in watched:
        mark = marks.get(position.symbol)
        if mark is None:
            continue
        venue = services.exchanges.for_account(position.account)
        if venue.conditional_orders:
            continue  # the exchange holds them
        crossed = fired(position, triggers_of(plan, position, venue.market(position.symbol)), mark)
        if crossed and exit_signal_id(position, crossed[0]) not in sent:
            exit_now(services, position, crossed[0])
            sent.add(exit_signal_id(position, crossed[0]))


def sweep_exits(services: Services) -> int:
    """The backstop: protect every open position that has exits, and every position
    with a working exit (a lost protect control, a crash between its steps). Returns
    how many were looked at."""
    keys = {plan.key for plan in services.state.exit_plans()}
    if keys:  # only the open ones: a closed position's exits went with its last fill
        positions = services.ledger.positions()
        keys &= {(p.account, p.strategy, p.symbol) for p in positions if p.is_open}
    keys.update(
        (r.request.account, r.request.strategy, r.request.symbol)
        for r in services.state.orders(live=True)
        if r.request.exit_kind is not None
    )
    for key in sorted(keys):
        try:
            protect(services, *key)
        except (ExchangeError, PermanentError, ConcurrentUpdate) as trouble:
            log.warning("exits not protected yet", extra=log_fields(key=key, error=str(trouble)))
    return len(keys)
