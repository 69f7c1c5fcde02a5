"""Pre-trade risk: every denial carries a machine-readable reason and the numbers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from stratus.domain.common import ZERO, Identifier, Message, Symbol
from stratus.domain.orders import OrderRequest


class TradingState(StrEnum):
    """Kill switch positions: ACTIVE trades, REDUCING only shrinks positions, HALTED
    refuses everything."""

    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


class RiskLimits(BaseModel):
    """None disables a limit. Notionals are in the quote currency."""

    model_config = ConfigDict(frozen=True)

    max_order_quantity: Decimal | None = Field(default=None, gt=0)
    max_order_notional: Decimal | None = Field(default=Decimal(100_000), gt=0)
    max_position_notional: Decimal | None = Field(default=Decimal(250_000), gt=0)
    max_total_exposure: Decimal | None = Field(default=Decimal(500_000), gt=0)
    max_order_balance_ratio: Decimal | None = Field(default=Decimal("0.5"), gt=0)
    daily_loss_limit: Decimal | None = Field(default=Decimal(10_000), gt=0)


@dataclass(frozen=True)
class RiskContext:
    """What risk needs to know at decision time; gathered by the service layer."""

    price: Decimal  # reference price for notionals
    position_quantity: Decimal  # account's net position in the symbol (signed)
    total_exposure: Decimal  # account's gross exposure before this order
    balance: Decimal  # account equity in the quote currency
    daily_pnl: Decimal  # today's realized PnL net of fees (negative = loss)
    trading_state: TradingState = TradingState.ACTIVE


class RiskWarning(Message):
    """Something that needs attention but refused nothing (e.g. a large unrealized loss)."""

    account: Identifier
    strategy: Identifier
    symbol: Symbol
    kind: str
    detail: str
    value: Decimal
    threshold: Decimal
    raised_at: AwareDatetime


@dataclass(frozen=True)
class RiskDecision:
    approved: bool
    reason: str = ""
    detail: str = ""


APPROVED = RiskDecision(approved=True)


def evaluate(request: OrderRequest, ctx: RiskContext, limits: RiskLimits) -> RiskDecision:
    """Check one order request against the limits; the first failing rule decides."""
    signed = request.quantity * request.side.sign
    after = ctx.position_quantity + signed
    reduces = abs(after) <= abs(ctx.position_quantity) and (
        after == ZERO or (after > ZERO) == (ctx.position_quantity > ZERO)
    )
    notional = request.quantity * ctx.price

    if ctx.trading_state is TradingState.HALTED:
        return _deny("kill_switch_halted", "trading is halted")
    if ctx.trading_state is TradingState.REDUCING and not reduces:
        return _deny("kill_switch_reducing", "only position-reducing orders are allowed")
    if request.reduce_only and not reduces:
        return _deny(
            "reduce_only_increases", f"would move position {ctx.position_quantity} to {after}"
        )
    if _over(request.quantity, limits.max_order_quantity):
        return _deny("max_order_quantity", f"{request.quantity} > {limits.max_order_quantity}")
    if _over(notional, limits.max_order_notional):
        return _deny("max_order_notional", f"{notional:.2f} > {limits.max_order_notional}")
    if reduces:
        return APPROVED  # shrinking risk is always allowed past this point
    if limits.max_order_balance_ratio is not None:
        ceiling = ctx.balance * limits.max_order_balance_ratio
        if notional > ceiling:
            return _deny(
                "max_order_balance_ratio",
                f"{notional:.2f} > {limits.max_order_balance_ratio} x balance {ctx.balance:.2f}",
            )
    position_notional = abs(after) * ctx.price
    if _over(position_notional, limits.max_position_notional):
        return _deny(
            "max_position_notional", f"{position_notional:.2f} > {limits.max_position_notional}"
        )
    exposure = ctx.total_exposure - abs(ctx.position_quantity) * ctx.price + position_notional
    if _over(exposure, limits.max_total_exposure):
        return _deny("max_total_exposure", f"{exposure:.2f} > {limits.max_total_exposure}")
    if limits.daily_loss_limit is not None and -ctx.daily_pnl >= limits.daily_loss_limit:
        return _deny(
            "daily_loss_limit", f"loss today {-ctx.daily_pnl:.2f} >= {limits.daily_loss_limit}"
        )
    return APPROVED


def _over(value: Decimal, limit: Decimal | None) -> bool:
    return limit is not None and value > limit


def _deny(reason: str, detail: str) -> RiskDecision:
    return RiskDecision(approved=False, reason=reason, detail=detail)
