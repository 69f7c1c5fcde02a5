"""Exchange accounts, their balances and the funds allocated to each strategy."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from stratus.domain.common import (
    ZERO,
    ExactDecimal,
    FiniteDecimal,
    Identifier,
    Message,
    NonNegativeDecimal,
)
from stratus.domain.records import Conflict


class Account(BaseModel):
    """An account as anyone may see it: never its key or secret."""

    model_config = ConfigDict(frozen=True)

    account: str
    exchange_id: str
    label: str
    currency: str
    sandbox: bool
    demo: bool
    enabled: bool = True  # False: takes no new signals (orders in flight go on)
    # The API key's end (key_fingerprint), to tell which key is stored; None for accounts
    # stored before fingerprints existed, until their keys are replaced.
    api_key_fingerprint: str | None
    key_version: str
    created_at: datetime
    updated_at: datetime
    version: int


def key_fingerprint(api_key: str) -> str:
    """What people may see of an API key: its last 4 characters, never more than a
    quarter of it (a short paper key shows less)."""
    shown = min(4, len(api_key) // 4)
    return "..." + api_key[len(api_key) - shown :]


class BalanceSource(StrEnum):
    EXCHANGE = "exchange"  # fetched from the account's exchange (snapshot, reconcile, watcher)
    MANUAL = "manual"  # set by hand: paper accounts only; the exchange's never replaces it


class Balance(BaseModel):
    model_config = ConfigDict(frozen=True)

    account: str
    asset: str
    free: ExactDecimal
    used: ExactDecimal
    total: ExactDecimal
    source: BalanceSource
    updated_at: datetime
    version: int


class AssetBalance(BaseModel):
    """One currency of a wallet as the exchange reports it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    asset: str = Field(min_length=1, max_length=32)
    free: FiniteDecimal
    used: NonNegativeDecimal
    total: FiniteDecimal


class Balances(Message):
    """An account's whole wallet from its exchange (topic `balances`): currencies it no
    longer lists are gone."""

    account: Identifier
    fetched_at: AwareDatetime
    assets: list[AssetBalance]


class BalanceSnapshot(BaseModel):
    """An account's exchange wallet total in one currency at a snapshot's schedule time."""

    model_config = ConfigDict(frozen=True)

    taken_at: datetime
    account: str
    asset: str
    total: ExactDecimal


class Allocation(BaseModel):
    model_config = ConfigDict(frozen=True)

    account: str
    strategy: str
    amount: ExactDecimal
    updated_at: datetime
    version: int


def check_allocations(amounts: Iterable[Decimal], equity: Decimal, currency: str) -> None:
    """Raise Conflict when the strategies of one account are given more than it has."""
    total = sum(amounts, ZERO)
    if total > equity:
        raise Conflict(
            "allocation_exceeds_equity",
            f"allocations would total {total} {currency}, above equity {equity} {currency}",
        )
