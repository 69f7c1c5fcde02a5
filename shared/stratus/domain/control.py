"""Control: what a person asks of the pipeline (topic `controls`), carried out by the
`control` function like any other message, never by the manager's request handler."""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import AwareDatetime, Field, model_validator

from stratus.domain.common import Identifier, Message, Symbol


class ControlKind(StrEnum):
    CANCEL = "cancel"  # cancel one working order on the exchange
    SYNC = "sync"  # reconcile now: one account, or every account
    PROTECT = "protect"  # bring a strategy position's protective exits to it (after a fill)


class Control(Message):
    control_id: Identifier
    kind: ControlKind
    account: Identifier | None = None  # a sync without one covers every account
    client_order_id: Identifier | None = None
    symbol: Symbol | None = None
    strategy: Identifier | None = None  # protect only
    requested_by: str = Field(min_length=1, max_length=200)
    requested_at: AwareDatetime

    @model_validator(mode="after")
    def _fields_match_kind(self) -> Self:
        if self.kind is ControlKind.CANCEL and None in (
            self.account,
            self.client_order_id,
            self.symbol,
        ):
            raise ValueError("a cancel names the account, the client_order_id and the symbol")
        if self.kind is ControlKind.PROTECT and None in (self.account, self.strategy, self.symbol):
            raise ValueError("a protect names the account, the strategy and the symbol")
        return self

    @property
    def position(self) -> tuple[str, str, str]:
        """A protect's strategy position: (account, strategy, symbol)."""
        if self.account is None or self.strategy is None or self.symbol is None:
            raise ValueError("not a protect")
        return (self.account, self.strategy, self.symbol)
