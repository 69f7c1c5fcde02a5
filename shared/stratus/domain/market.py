"""What the exchange tells us about a symbol: its trading rules and its current quote."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from stratus.domain.common import Message, PositiveDecimal, Side, Symbol
from stratus.domain.errors import PermanentError


def quote_currency(symbol: str) -> str:
    """The quote currency of a ccxt unified symbol: USDT in BTC/USDT and BTC/USDT:USDT."""
    return symbol.split("/")[-1].split(":")[0]


@dataclass(frozen=True)
class Quote:
    symbol: str
    bid: Decimal
    ask: Decimal
    last: Decimal
    at: datetime

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2

    @property
    def spread(self) -> Decimal:
        return self.ask - self.bid

    @property
    def spread_ratio(self) -> Decimal:
        """Spread relative to mid (0.0001 = 1 basis point)."""
        return self.spread / self.mid

    def touch(self, side: Side) -> Decimal:
        """The price a market order on `side` meets first."""
        return self.ask if side is Side.BUY else self.bid


class Mark(BaseModel):
    """A symbol's latest price, and when the exchange quoted it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: Symbol
    price: PositiveDecimal
    at: AwareDatetime


class Marks(Message):
    """Marks of one exchange, as the watcher publishes them (topic `marks`)."""

    exchange: str
    marks: list[Mark]


@dataclass(frozen=True)
class Market:
    """Trading rules of one symbol; steps are tick sizes (ccxt's TICK_SIZE precision)."""

    symbol: str
    base: str
    quote: str
    amount_step: Decimal
    price_step: Decimal
    min_amount: Decimal
    max_amount: Decimal | None
    min_cost: Decimal | None
    maker_fee: Decimal
    taker_fee: Decimal

    def round_amount(self, amount: Decimal) -> Decimal:
        """Round down: never send more than was asked for."""
        return _to_step(amount, self.amount_step, ROUND_FLOOR)

    def round_price(self, price: Decimal, side: Side) -> Decimal:
        """Round a limit price away from crossing: buys down, sells up."""
        return _to_step(price, self.price_step, ROUND_FLOOR if side is Side.BUY else ROUND_CEILING)

    def check(self, amount: Decimal, price: Decimal) -> None:
        """Raise a PermanentError if the exchange would refuse this size at this price."""
        if amount < self.min_amount:
            raise PermanentError(
                "below_min_amount", f"{amount} {self.base} is below the minimum {self.min_amount}"
            )
        if self.max_amount is not None and amount > self.max_amount:
            raise PermanentError(
                "above_max_amount", f"{amount} {self.base} is above the maximum {self.max_amount}"
            )
        if self.min_cost is not None and amount * price < self.min_cost:
            raise PermanentError(
                "below_min_cost",
                f"{amount * price:.8f} {self.quote} is below the minimum cost {self.min_cost}",
            )


def _to_step(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    return (value / step).to_integral_value(rounding=rounding) * step
