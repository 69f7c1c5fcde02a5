"""Positions: filtered lists, by asset, fill application, validation and snapshots."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from stratus.adapters.sql.audit import Page
from stratus.adapters.sql.ledger import Refused
from stratus.adapters.sql.portfolio import PositionFilter
from stratus.domain.common import Identifier, Symbol
from stratus.domain.exits import ExitPlan, is_exit_of
from stratus.domain.orders import ExitKind, OrderRecord
from stratus.domain.performance import MarkedPosition
from stratus.manager.auth import Reader, Trader
from stratus.manager.bodies import StrictJsonRoute
from stratus.manager.kept import Kept
from stratus.manager.numbers import Money, Quantity
from stratus.manager.numbers import Price as PriceOut
from stratus.manager.routes.deps import KeptDep, ServicesDep, StoreDep
from stratus.manager.schemas import Asset, FillIn, Mode, Paged, Paging, Price, Status, Wallet, paged
from stratus.manager.store import Store
from stratus.service.services import Services

router = APIRouter(tags=["positions"], route_class=StrictJsonRoute)


class ExitOut(BaseModel):
    """A protective exit of an open position (docs/exits.md)."""

    trigger_price: PriceOut  # it fires when the mark reaches this
    asked: str  # as the signal gave it: a price, or a distance ("entry - 500")
    # exchange: a conditional order on the exchange holds it (client_order_id); watched:
    # Stratus checks marks against it (a venue without conditional orders, or until the
    # exchange's order is in place)
    held: Literal["exchange", "watched"]
    client_order_id: str | None


Exits = dict[ExitKind, ExitOut]


def exit_view(
    services: Services, account: str | None
) -> tuple[dict[tuple[str, str, str], ExitPlan], list[OrderRecord]]:
    """Plans, and working exits where any plan is kept (exits only work beside a plan):
    one read of the state store (Firestore in production) when no position has exits."""
    plans = {plan.key: plan for plan in services.state.exit_plans()}
    if not plans:
        return plans, []
    working = [r for r in services.state.orders(account, live=True) if r.request.exit_kind]
    return plans, working


def exits_of(plan: ExitPlan | None, records: list[OrderRecord], marked: MarkedPosition) -> Exits:
    """An open position's exits: its working exit orders, else its plan's triggers."""
    p = marked.tracked.position
    if not p.is_open:
        return {}
    key = (p.account, p.strategy, p.symbol)
    found: Exits = {}
    for record in records:
        kind, trigger = record.request.exit_kind, record.request.trigger_price
        if is_exit_of(record, key) and kind is not None and trigger is not None:
            asked = plan.describe(kind) if plan is not None else str(trigger)
            found[kind] = ExitOut(
                trigger_price=trigger,
                asked=asked,
                held="exchange",
                client_order_id=record.client_order_id,
            )
    if plan is not None:
        for kind, trigger in plan.triggers(p).items():
            if kind not in found:
                found[kind] = ExitOut(
                    trigger_price=trigger,
                    asked=plan.describe(kind),
                    held="watched",
                    client_order_id=None,
                )
    return found


class PositionOut(BaseModel):
    account: str
    strategy: str
    symbol: str
    asset: str
    mode: str
    status: str
    quantity: Quantity
    average_entry: PriceOut
    realized_pnl: Money
    fees: Money
    closing_fills: int
    winning_fills: int
    updated_at: datetime | None
    version: int
    mark_price: PriceOut | None  # the latest price (the watcher's, a fill's, a snapshot's)
    mark_time: datetime | None  # when the exchange quoted it
    unrealized_pnl: Money | None  # at mark_price; None without a mark
    round_trip_id: str | None  # the open round trip, else the last one closed
    stop_loss: ExitOut | None = None  # an open position's protective exits
    take_profit: ExitOut | None = None

    @classmethod
    def of(cls, marked: MarkedPosition, exits: Exits | None = None) -> PositionOut:
        tracked, mark = marked.tracked, marked.mark
        p = tracked.position
        exits = exits or {}
        return cls(
            stop_loss=exits.get(ExitKind.STOP_LOSS),
            take_profit=exits.get(ExitKind.TAKE_PROFIT),
            round_trip_id=marked.round_trip_id,
            mark_price=None if mark is None else mark.price,
            mark_time=None if mark is None else mark.at,
            unrealized_pnl=None if mark is None else p.unrealized_pnl(mark.price),
            account=p.account,
            strategy=p.strategy,
            symbol=p.symbol,
            asset=tracked.asset,
            mode=tracked.mode,
            status="open" if p.is_open else "closed",
            quantity=p.quantity,
            average_entry=p.average_entry,
            realized_pnl=p.realized_pnl,
            fees=p.fees,
            closing_fills=tracked.closing_fills,
            winning_fills=tracked.winning_fills,
            updated_at=p.updated_at,
            version=tracked.version,
        )


class FillsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fills: list[FillIn] = Field(min_length=1, max_length=500)


class FillResult(BaseModel):
    fill_id: str
    applied: bool  # False: applied before (idempotent), or refused (error says why)
    position: PositionOut | None
    error: str | None = None  # a fill of a batch the database refused; nothing written


class FillResults(BaseModel):
    results: list[FillResult]


class Mismatch(BaseModel):
    account: str
    strategy: str
    symbol: str
    stored_quantity: Quantity
    replayed_quantity: Quantity
    stored_average_entry: PriceOut
    replayed_average_entry: PriceOut
    stored_realized_pnl: Money
    replayed_realized_pnl: Money


class Validation(BaseModel):
    checked: int
    valid: bool
    mismatches: list[Mismatch]


class SnapshotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    taken_at: AwareDatetime | None = None
    marks: dict[Symbol, Price] = Field(default_factory=dict, max_length=10_000)
    balances: dict[Identifier, Wallet] = Field(
        default_factory=dict,
        max_length=1_000,
        description="exchange wallet totals: account -> currency -> amount",
    )


class SnapshotResult(BaseModel):
    taken_at: datetime
    created: bool


class SnapshotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    taken_at: datetime
    account: str
    strategy: str
    symbol: str
    quantity: Quantity
    average_entry: PriceOut
    mark_price: PriceOut
    realized_pnl: Money
    unrealized_pnl: Money
    fees: Money


@router.get("/positions", response_model=Paged[PositionOut])
def list_positions(
    store: StoreDep,
    services: ServicesDep,
    _: Reader,
    page: Paging,
    kept: KeptDep,
    account: Identifier | None = None,
    strategy: Identifier | None = None,
    symbol: Symbol | None = None,
    asset: Asset | None = None,
    mode: Mode | None = None,
    status: Status | None = None,
) -> Response:
    where = PositionFilter(account, strategy, symbol, asset, mode, status)
    return _page(store, services, kept, where, page)


@router.post("/positions/update", response_model=FillResults)
def apply_fills(body: FillsIn, store: StoreDep, principal: Trader) -> FillResults:
    """Apply fills in order, each exactly once by fill_id (a repeat is reported, not
    applied again), all in one transaction. A fill whose value the database refuses gets
    its own error and writes nothing, the others are applied (one fill alone: 422)."""
    fills = [fill.fill() for fill in body.fills]
    results = []
    answers = store.ledger.apply_many(fills, actor=principal.name)
    for fill, applied in zip(fills, answers, strict=True):
        if isinstance(applied, Refused):
            results.append(
                FillResult(fill_id=fill.fill_id, applied=False, position=None, error=applied.reason)
            )
            continue
        position = None if applied is None else PositionOut.of(applied)
        results.append(
            FillResult(fill_id=fill.fill_id, applied=position is not None, position=position)
        )
    return FillResults(results=results)


@router.post("/positions/validate", response_model=Validation)
def validate(
    store: StoreDep,
    _: Reader,
    account: Identifier | None = None,
    strategy: Identifier | None = None,
) -> Validation:
    """Replay every position's fills and report positions that differ from the ledger."""
    checked, mismatches = store.portfolio.validate(PositionFilter(account, strategy))
    return Validation(
        checked=checked,
        valid=not mismatches,
        mismatches=[
            Mismatch(
                account=m.position.account,
                strategy=m.position.strategy,
                symbol=m.position.symbol,
                stored_quantity=m.position.quantity,
                replayed_quantity=m.replayed.quantity,
                stored_average_entry=m.position.average_entry,
                replayed_average_entry=m.replayed.average_entry,
                stored_realized_pnl=m.position.realized_pnl,
                replayed_realized_pnl=m.replayed.realized_pnl,
            )
            for m in mismatches
        ],
    )


@router.post("/positions/snapshots", response_model=SnapshotResult, status_code=201)
def create_snapshot(
    body: SnapshotIn, store: StoreDep, principal: Trader, response: Response
) -> SnapshotResult:
    """Snapshot every position at the given marks (stored marks, then entry, for the
    rest) and the given exchange balances (GET /balances/snapshots reads them back);
    idempotent per taken_at: a repeat answers 200 with created=false and stores nothing."""
    taken_at = body.taken_at or store.ledger.clock.now()
    marks: Mapping[str, Decimal] = {**store.portfolio.marks(), **body.marks}
    created = store.ledger.record_snapshot(taken_at, marks, body.balances, actor=principal.name)
    if not created:
        response.status_code = 200
    return SnapshotResult(taken_at=taken_at, created=created)


@router.get("/positions/snapshots", response_model=Paged[SnapshotOut])
def list_snapshots(
    store: StoreDep,
    _: Reader,
    page: Paging,
    taken_at: AwareDatetime | None = None,
    account: Identifier | None = None,
) -> Paged[SnapshotOut]:
    rows, total = store.portfolio.snapshots(page, taken_at, account)
    return paged([SnapshotOut.model_validate(row) for row in rows], total, page)


@router.get("/positions/{asset}", response_model=Paged[PositionOut])
def positions_by_asset(
    asset: Annotated[Asset, "base currency, e.g. BTC"],
    store: StoreDep,
    _: Reader,
    services: ServicesDep,
    page: Paging,
    kept: KeptDep,
    status: Status | None = None,
) -> Response:
    return _page(store, services, kept, PositionFilter(asset=asset, status=status), page)


def exits_digest(plans: Mapping[tuple[str, str, str], ExitPlan], working: list[OrderRecord]) -> str:
    """Everything of the exit view a page is rendered from, hashed."""
    parts = sorted(plan.model_dump_json() for plan in plans.values())
    parts += sorted(
        f"{r.client_order_id} {r.request.account} {r.request.strategy} {r.request.symbol} "
        f"{r.request.exit_kind} {r.request.trigger_price}"
        for r in working
    )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


_PAGE = TypeAdapter(Paged[PositionOut])  # the serializer FastAPI uses for response_model


def _page(
    store: Store, services: Services, kept: Kept, where: PositionFilter, page: Page
) -> Response:
    """A page of positions as JSON, served from `kept` when the database confirms, in the
    query that reads the page, that its rows still hash to the kept digest. The exits
    shown beside them come from the state store: what was read of them is part of the
    kept answer's key, so a changed exit is never served from an old page."""
    plans, working = exit_view(services, where.account)
    key = (where, page, exits_digest(plans, working))
    held = kept.get(key)
    result = store.portfolio.positions(where, page, None if held is None else held[0])
    if held is not None and result.unchanged:
        return Response(held[1], media_type="application/json")
    items = []
    for item in result.items:
        p = item.tracked.position
        exits = exits_of(plans.get((p.account, p.strategy, p.symbol)), working, item)
        items.append(PositionOut.of(item, exits))
    body = _PAGE.dump_json(paged(items, result.total, page))
    if result.digest is not None:
        kept.put(key, result.digest, body)
    return Response(body, media_type="application/json")
