"""The paper venue's markets: USDT-margined linear perpetuals, shaped like ccxt's.

Steps, limits and fees follow Bybit's linear contracts so that code which rounds, sizes
and checks against `load_markets()` behaves the same on paper as in production. The
Decimal specs are what the paper exchange computes with; `to_ccxt()` is what callers see
(floats, ccxt's TICK_SIZE precision mode).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

SETTLE = "USDT"


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """One linear perpetual; contract size is 1 base unit, so amount = base quantity."""

    base: str
    amount_step: Decimal
    price_step: Decimal
    min_amount: Decimal
    max_amount: Decimal
    min_price: Decimal
    max_price: Decimal
    min_cost: Decimal = Decimal(5)
    maker: Decimal = Decimal("0.0002")
    taker: Decimal = Decimal("0.00055")
    max_leverage: int = 100

    @property
    def symbol(self) -> str:
        return f"{self.base}/{SETTLE}:{SETTLE}"

    @property
    def id(self) -> str:
        return f"{self.base}{SETTLE}"

    def to_ccxt(self) -> dict[str, Any]:
        """A fresh ccxt market dict (callers may mutate it freely)."""
        return {
            "id": self.id,
            "symbol": self.symbol,
            "base": self.base,
            "quote": SETTLE,
            "settle": SETTLE,
            "baseId": self.base,
            "quoteId": SETTLE,
            "settleId": SETTLE,
            "type": "swap",
            "spot": False,
            "margin": False,
            "swap": True,
            "future": False,
            "option": False,
            "index": None,
            "active": True,
            "contract": True,
            "linear": True,
            "inverse": False,
            "subType": "linear",
            "contractSize": 1.0,
            "expiry": None,
            "expiryDatetime": None,
            "strike": None,
            "optionType": None,
            "taker": float(self.taker),
            "maker": float(self.maker),
            "percentage": True,
            "tierBased": True,
            "feeSide": "get",
            "precision": {"amount": float(self.amount_step), "price": float(self.price_step)},
            "limits": {
                "leverage": {"min": 1.0, "max": float(self.max_leverage)},
                "amount": {"min": float(self.min_amount), "max": float(self.max_amount)},
                "price": {"min": float(self.min_price), "max": float(self.max_price)},
                "cost": {"min": float(self.min_cost), "max": None},
            },
            "created": None,
            "info": {},
        }


def _spec(base: str, amount: str, price: str, max_amount: str, max_price: str) -> MarketSpec:
    step, tick = Decimal(amount), Decimal(price)
    return MarketSpec(
        base=base,
        amount_step=step,
        price_step=tick,
        min_amount=step,
        max_amount=Decimal(max_amount),
        min_price=tick,
        max_price=Decimal(max_price),
    )


SPECS: Mapping[str, MarketSpec] = {
    spec.symbol: spec
    for spec in (
        _spec("BTC", "0.001", "0.1", "1190", "1999999.8"),
        _spec("ETH", "0.01", "0.01", "7240", "199999.98"),
        _spec("SOL", "0.1", "0.01", "79770", "19999.98"),
    )
}


def paper_markets(symbols: tuple[str, ...] | None = None) -> dict[str, dict[str, Any]]:
    """ccxt markets keyed by unified symbol, optionally only those listed."""
    wanted = SPECS.keys() if symbols is None else [s for s in symbols if s in SPECS]
    return {symbol: SPECS[symbol].to_ccxt() for symbol in wanted}
