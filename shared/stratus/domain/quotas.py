"""Per-strategy quotas: what one account lets one strategy hold at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from stratus.domain.common import ExactDecimal


class Quota(BaseModel):
    """None disables a limit. Notionals and losses are in the account's currency."""

    model_config = ConfigDict(frozen=True)

    account: str
    strategy: str
    max_notional: ExactDecimal | None = None  # all held reservations together
    max_order_notional: ExactDecimal | None = None
    max_open_orders: int | None = None
    max_daily_loss: ExactDecimal | None = None  # realized net of fees since UTC midnight
    updated_at: datetime
    version: int


@dataclass(frozen=True)
class QuotaUsage:
    held_notional: ExactDecimal
    open_orders: int
    daily_pnl: ExactDecimal  # negative is a loss


def refusal(quota: Quota, usage: QuotaUsage, notional: Decimal) -> str | None:
    """The machine-readable reason one more order of `notional` breaks the quota."""
    if quota.max_order_notional is not None and notional > quota.max_order_notional:
        return "quota_max_order_notional"
    if quota.max_notional is not None and usage.held_notional + notional > quota.max_notional:
        return "quota_max_notional"
    if quota.max_open_orders is not None and usage.open_orders + 1 > quota.max_open_orders:
        return "quota_max_open_orders"
    if quota.max_daily_loss is not None and -usage.daily_pnl >= quota.max_daily_loss:
        return "quota_max_daily_loss"
    return None
