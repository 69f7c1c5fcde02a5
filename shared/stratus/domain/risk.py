"""Pre-trade risk: every denial carries a machine-readable reason and the numbers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from stratus.domain.common import ZERO, Identifier, Message, Symbol
from stratus.domain.orders import OrderRequest, OrderType
from stratus.domain.positions import Position


class TradingState(StrEnum):
    """Kill switch positions: ACTIVE trades, REDUCING lets each strategy only shrink its
    own position (closes always pass), HALTED refuses everything."""

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
    # Approved but not yet filled: several legs of one signal are checked before any
    # fills, so limits must count what is already on its way to the exchange.
    pending_quantity: Decimal = ZERO  # signed, this symbol
    pending_exposure: Decimal = ZERO  # gross notional, the account's other symbols
    strategy_position: Position | None = None  # the requesting strategy's
    strategy_pending: Decimal = ZERO  # signed: the requesting strategy's share of pending
    # Unsigned, this symbol: in-flight orders on the request's side, the most they could
    # take off the account's position before this order reaches the exchange.
    pending_same_side: Decimal = ZERO

    @property
    def strategy_outlook(self) -> Decimal:
        """What the requesting strategy will hold once its in-flight orders finish."""
        held = self.strategy_position.quantity if self.strategy_position is not None else ZERO
        return held + self.strategy_pending


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


class TradingStateChange(Message):
    """The kill switch was set for a scope (topic `trading-state`)."""

    scope: str = Field(min_length=1, max_length=200)
    state: TradingState
    reason: str = Field(max_length=1000)
    changed_at: AwareDatetime


@dataclass(frozen=True)
class RiskDecision:
    approved: bool
    reason: str = ""
    detail: str = ""
    quantity: Decimal | None = None  # approved for less: a close cut to what is left


APPROVED = RiskDecision(approved=True)


def evaluate(request: OrderRequest, ctx: RiskContext, limits: RiskLimits) -> RiskDecision:
    """Check one order request against the limits; the first failing rule decides."""
    if ctx.trading_state is TradingState.HALTED:
        return _deny("kill_switch_halted", "trading is halted")
    if request.closes_position:
        return _close(request, ctx)
    signed = request.quantity * request.side.sign
    projected = ctx.position_quantity + ctx.pending_quantity  # once in-flight orders fill
    after = projected + signed
    reduces = _shrinks(projected, after)
    notional = request.quantity * ctx.price

    outlook = ctx.strategy_outlook
    if ctx.trading_state is TradingState.REDUCING and not _shrinks(outlook, outlook + signed):
        return _deny(
            "kill_switch_reducing",
            f"only orders shrinking a strategy's own position pass; {request.strategy} "
            f"would go from {outlook} to {outlook + signed}",
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
    exposure = (
        ctx.total_exposure
        - abs(ctx.position_quantity) * ctx.price
        + position_notional
        + ctx.pending_exposure
    )
    if _over(exposure, limits.max_total_exposure):
        return _deny("max_total_exposure", f"{exposure:.2f} > {limits.max_total_exposure}")
    if limits.daily_loss_limit is not None and -ctx.daily_pnl >= limits.daily_loss_limit:
        return _deny(
            "daily_loss_limit", f"loss today {-ctx.daily_pnl:.2f} >= {limits.daily_loss_limit}"
        )
    return APPROVED


def _close(request: OrderRequest, ctx: RiskContext) -> RiskDecision:
    """A close gives back exposure its strategy was allowed to take, so no limit, quota
    or REDUCING refuses it (only HALTED does): it is cut to what the strategy will still
    hold once its in-flight orders finish, so it never flips the strategy's position."""
    outlook = ctx.strategy_outlook
    left = max(outlook * -request.side.sign, ZERO)  # a sell closes what is long
    if left == ZERO:
        return _deny(
            "nothing_to_close",
            f"{request.strategy} will hold {outlook} {request.symbol} "
            "once its in-flight orders finish",
        )
    if request.quantity > left:
        return RiskDecision(True, detail=f"cut to the {left} still held", quantity=left)
    return APPROVED


def exchange_reduce_only(
    request: OrderRequest, ctx: RiskContext, exchange_position: Callable[[], Decimal]
) -> bool:
    """Whether the approved order goes to the exchange flagged reduceOnly.

    Only a market close, and only if it shrinks the account's net position on the
    exchange (`exchange_position`, signed, asked only then) even if every in-flight
    order on its side fills first: an order flagged reduceOnly that would grow the
    position is rejected. A resting order's flag is checked again at each of its fills,
    so a limit close never carries it: another strategy's trade shrinking the account
    meanwhile would get the close canceled."""
    if not request.closes_position or request.order_type is not OrderType.MARKET:
        return False
    reducible = exchange_position() * -request.side.sign  # the long a sell can take off
    return reducible - ctx.pending_same_side >= request.quantity


def _shrinks(before: Decimal, after: Decimal) -> bool:
    """Closer to flat, without flipping through it."""
    return abs(after) < abs(before) and (after == ZERO or (after > ZERO) == (before > ZERO))


def _over(value: Decimal, limit: Decimal | None) -> bool:
    return limit is not None and value > limit


def _deny(reason: str, detail: str) -> RiskDecision:
    return RiskDecision(approved=False, reason=reason, detail=detail)


_SEVERITY = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


def most_restrictive(states: Iterable[TradingState]) -> TradingState:
    """The kill switch in force when several scopes (global, account, strategy) are set."""
    return max(states, key=_SEVERITY.__getitem__, default=TradingState.ACTIVE)


def kill_switch_scopes(account: str, strategy: str) -> list[str]:
    return ["global", f"account:{account}", f"strategy:{strategy}"]


def unrealized_loss_warning(
    position: Position, mark: Decimal, threshold_ratio: Decimal, at: datetime
) -> RiskWarning | None:
    """A warning when an open position has lost more than threshold_ratio of its notional."""
    loss = -position.unrealized_pnl(mark)
    threshold = position.notional(mark) * threshold_ratio
    if not position.is_open or loss <= threshold:
        return None
    return RiskWarning(
        account=position.account,
        strategy=position.strategy,
        symbol=position.symbol,
        kind="unrealized_loss",
        detail=f"unrealized loss {loss:.2f} exceeds {threshold:.2f}",
        value=loss,
        threshold=threshold,
        raised_at=at,
    )
