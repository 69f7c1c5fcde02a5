"""What the console's pages show, gathered from the system of record and the kill switch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal

from stratus.adapters.sql.audit import Page
from stratus.adapters.sql.history import SqlHistory
from stratus.adapters.sql.outcomes import DeadLetterCount
from stratus.adapters.sql.portfolio import LedgerFilter, PositionFilter
from stratus.domain.accounts import Account
from stratus.domain.common import ZERO
from stratus.domain.performance import Exposure, Summary, exposure_by_asset
from stratus.domain.risk import RiskLimits, TradingState, most_restrictive
from stratus.manager.store import Store
from stratus.service.services import Services

EVERY = Page(limit=1000)  # accounts and strategies a page lists at most


@dataclass(frozen=True)
class Equity:
    account: str
    currency: str
    total: Decimal


@dataclass(frozen=True)
class Switch:
    scope: str
    state: TradingState  # set for this scope (or the default, for "global")
    effective: TradingState  # what applies there: the most restrictive of it and above


@dataclass(frozen=True)
class Overview:
    summary: Summary
    equity: list[Equity]
    net_pnl_today: Decimal  # realized net of fees since midnight UTC, plus unrealized now
    exposure: list[Exposure]
    switches: list[Switch]
    last_snapshot: datetime | None
    last_reconcile: datetime | None
    dead_letters: list[DeadLetterCount]


def overview(services: Services, store: Store) -> Overview:
    accounts, _ = store.accounts.find(EVERY)
    threshold = Decimal(str(services.settings.unrealized_loss_warning))
    summary = store.portfolio.summary(PositionFilter(), threshold)
    now = services.clock.now().astimezone(UTC)
    midnight = datetime.combine(now.date(), time.min, tzinfo=UTC)
    today = store.portfolio.pnl(LedgerFilter(since=midnight))
    tracked, marks = store.portfolio.tracked(PositionFilter(status="open"))
    return Overview(
        summary=summary,
        equity=[_equity(store, account) for account in accounts],
        net_pnl_today=today.realized_net + summary.metrics.unrealized_pnl,
        exposure=exposure_by_asset([item.position for item in tracked], marks),
        switches=switches(services, store, accounts),
        last_snapshot=SqlHistory(store.database).last_snapshot(),
        last_reconcile=store.outcomes.last_reconcile(),
        dead_letters=store.outcomes.dead_letter_counts(),
    )


def _equity(store: Store, account: Account) -> Equity:
    total = store.funds.equity(account.account)
    return Equity(account.account, account.currency, ZERO if total is None else total)


def switches(services: Services, store: Store, accounts: list[Account]) -> list[Switch]:
    """The kill switch of every scope trading happens in: global, each account, each
    strategy with a position or an allocation."""
    positions = [item.position for item in store.portfolio.tracked(PositionFilter())[0]]
    names = {a.account for a in accounts} | {p.account for p in positions}
    strategies = {p.strategy for p in positions}
    strategies.update(a.strategy for a in store.funds.allocations(EVERY)[0])
    scopes = [f"account:{name}" for name in sorted(names)]
    scopes += [f"strategy:{name}" for name in sorted(strategies)]
    default = services.settings.trading_state
    found = services.state.trading_state(["global", *scopes])
    top = most_restrictive([default, found.get("global", default)])
    rows = [Switch("global", found.get("global", default), top)]
    for scope in scopes:
        state = found.get(scope, TradingState.ACTIVE)
        rows.append(Switch(scope, state, most_restrictive([top, state])))
    return rows


@dataclass(frozen=True)
class Limit:
    name: str
    value: Decimal | None  # None: disabled


def limits(services: Services) -> list[Limit]:
    risk: RiskLimits = services.settings.risk
    return [Limit(name, getattr(risk, name)) for name in RiskLimits.model_fields]
