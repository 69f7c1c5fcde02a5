"""Conditional (trigger) orders on the paper venue: ccxt's unified trigger params read as
ccxt-bybit reads them, and when a waiting order's trigger is reached.

A paper conditional order is a reduce-only market order that waits for the mark (the
quote's mid) to reach its trigger price: "above" waits for the mark to rise to it,
"below" for the mark to fall to it. ccxt's params name it one of two ways:

- ``triggerPrice`` (or ``stopPrice``) with ``triggerDirection`` 'above' / 'below' (also
  'ascending' / 'descending', or Bybit's 1 / 2);
- ``stopLossPrice`` or ``takeProfitPrice``: the direction follows from the side (a sell
  stop loss waits for a fall, a sell take profit for a rise; a buy mirrors that), and
  the order is reduce-only, as ccxt-bybit sends it.

Paper keeps it to protective exits: a conditional order is a reduce-only market order
(others raise NotSupported), so it never needs margin; what it may reduce is decided
when it fires.

Like Bybit, a trigger the mark has already reached is refused when placing (110092
"expect Rising", 110093 "expect Falling"): the order would fire at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from stratus.adapters.paper import rules
from stratus.adapters.paper.errors import ccxt_error
from stratus.adapters.paper.markets import MarketSpec
from stratus.adapters.paper.structures import PaperOrder

ABOVE, BELOW = "above", "below"
DIRECTIONS = {
    "above": ABOVE,
    "ascending": ABOVE,
    "1": ABOVE,
    "below": BELOW,
    "descending": BELOW,
    "2": BELOW,
}


@dataclass(frozen=True, slots=True)
class Trigger:
    price: Decimal
    direction: str

    def order(
        self, id: str, client_id: str | None, symbol: str, side: str, qty: Decimal, at: datetime
    ) -> PaperOrder:
        """The waiting order: reduce-only, market once it fires."""
        return PaperOrder(
            id=id,
            client_order_id=client_id,
            symbol=symbol,
            type="market",
            side=side,
            amount=qty,
            price=None,
            reduce_only=True,
            timestamp=at,
            trigger_price=self.price,
            trigger_direction=self.direction,
        )


def trigger_of(
    params: Mapping[str, Any], spec: MarketSpec, type: str, side: str, enabled: bool
) -> Trigger | None:
    """The order's trigger from ccxt params, None for an ordinary order; raises what
    ccxt would for orders the paper venue does not take."""
    if params.get("stopLoss") is not None or params.get("takeProfit") is not None:
        raise ccxt_error("NotSupported", "paper has no stopLoss/takeProfit attached to orders")
    plain = params.get("triggerPrice", params.get("stopPrice"))
    stop_loss, take_profit = params.get("stopLossPrice"), params.get("takeProfitPrice")
    given = [value for value in (plain, stop_loss, take_profit) if value is not None]
    if not given:
        return None
    if not enabled:
        raise ccxt_error("NotSupported", "this paper venue has no conditional orders")
    if len(given) > 1:
        raise ccxt_error("NotSupported", "paper takes one trigger per order")
    if type != "market":
        raise ccxt_error("NotSupported", "paper conditional orders are market orders")
    if plain is not None and not params.get("reduceOnly"):
        raise ccxt_error("NotSupported", "paper conditional orders are reduce-only")
    price = rules.positive(given[0], "trigger price")
    rules.check_range(price, spec.price_step, spec.min_price, spec.max_price, "trigger price")
    if plain is None:
        falling = (stop_loss is not None) == (side == "sell")
        return Trigger(price, BELOW if falling else ABOVE)
    direction = DIRECTIONS.get(str(params.get("triggerDirection")).lower())
    if direction is None:
        message = "trigger orders need a triggerDirection: 'above' or 'below'"
        raise ccxt_error("ArgumentsRequired", message)
    return Trigger(price, direction)


def reached(direction: str | None, trigger: Decimal, mark: Decimal) -> bool:
    return mark >= trigger if direction == ABOVE else mark <= trigger


def check_waits(trigger: Trigger, mark: Decimal) -> None:
    """Bybit refuses a trigger the mark has already reached (it would fire at once)."""
    if not reached(trigger.direction, trigger.price, mark):
        return
    expected, compared = ("Rising", "<=") if trigger.direction == ABOVE else ("Falling", ">=")
    message = f"expect {expected}, but trigger_price[{trigger.price}] {compared} current[{mark}]"
    raise ccxt_error("InvalidOrder", message)
