"""What one reconciliation of an account with its exchange found and did."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict

from stratus.domain.common import ExactDecimal, Identifier, Message, Symbol

RECONCILIATION_STRATEGY = "reconciliation"  # books drift nobody's order explains


class Drift(BaseModel):
    """A net position the ledger and the exchange disagree on (after adopting fills)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: Symbol
    ledger_quantity: ExactDecimal
    exchange_quantity: ExactDecimal
    correction_fill_id: str  # the fill that books the difference


class ReconciliationReport(Message):
    report_id: Identifier
    account: Identifier
    run_at: AwareDatetime
    adopted_fills: int
    lost_orders: list[str]
    canceled_stale: list[str]
    unknown_orders: list[str]  # working on the exchange, unknown to Stratus
    drifts: list[Drift]
    balances: dict[str, ExactDecimal]
    # Symbols not judged this run: an order was being sent, or the exchange position
    # moved while the ledger was read. The next run judges them.
    deferred: list[Symbol] = []

    @property
    def clean(self) -> bool:
        return not (self.lost_orders or self.unknown_orders or self.drifts)
