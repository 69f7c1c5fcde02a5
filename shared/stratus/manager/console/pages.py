"""The operator console: server-rendered pages, no build step (docs/console.md).

Each page is a shell (`/`, `/positions`, ...) that holds no data and needs no token, and
a fragment (`/console/<page>`) rendered for the bearer token the browser keeps in its
session and htmx sends as `Authorization`: the same tokens and role checks as the API.
Admin data (tokens, key versions) is rendered only for admins.
"""

from __future__ import annotations

from decimal import Decimal
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import AwareDatetime
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stratus.adapters.sql.audit import Page
from stratus.adapters.sql.history import SqlHistory
from stratus.adapters.sql.outcomes import SignalFilter
from stratus.adapters.sql.portfolio import LedgerFilter, PositionFilter
from stratus.adapters.sql.round_trips import TripFilter
from stratus.domain.common import Identifier, Symbol
from stratus.domain.orders import ExitKind, OrderStatus
from stratus.domain.outcomes import SignalStatus
from stratus.formatting import amount, money
from stratus.manager.auth import Admin, Reader
from stratus.manager.bodies import StrictJsonRoute
from stratus.manager.console import views
from stratus.manager.routes import analytics
from stratus.manager.routes.deps import ServicesDep, StoreDep
from stratus.manager.routes.positions import exit_view, exits_of
from stratus.manager.schemas import Paging, Status

HERE = files("stratus.manager.console")
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters.update(
    money=lambda value, places=2: "" if value is None else money(Decimal(value), places),
    amount=lambda value: "" if value is None else amount(Decimal(value)),
    when=lambda value: "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S"),
    # A query string of the filters that are set (an empty one would be a 422).
    qs=lambda query: urlencode({key: value for key, value in query.items() if value}),
)

# (path, name, title): the navigation, in order. Admin pages are marked.
PAGES = [
    ("/", "overview", "Overview"),
    ("/positions", "positions", "Positions"),
    ("/orders", "orders", "Orders"),
    ("/fills", "fills", "Fills"),
    ("/signals", "signals", "Signals"),
    ("/pnl", "pnl", "PnL"),
    ("/risk", "risk", "Risk"),
    ("/accounts", "accounts", "Accounts"),
    ("/audit", "audit", "Audit"),
    ("/reconciliation", "reconciliation", "Reconciliation"),
    ("/admin", "admin", "Admin"),
]
ADMIN_PAGES = {"admin"}
# Which live stream makes a page refresh itself.
LIVE = {"overview": "positions", "positions": "positions", "orders": "activity"}
LIVE |= {"fills": "activity", "signals": "activity", "pnl": "activity"}

# Pages load and talk to this origin only: nothing leaves the machine, whatever a
# vendored bundle asks for (ReDoc's sidebar logo comes from its CDN, and is blocked).
POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'"
)


class OwnOriginOnly:
    """Puts the Content-Security-Policy on every HTML answer (console, /docs, /redoc)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Security-Policy"] = POLICY
            await send(message)

        await self.app(scope, receive, send_with_policy if scope["type"] == "http" else send)


router = APIRouter(include_in_schema=False, route_class=StrictJsonRoute)
static = StaticFiles(directory=str(HERE / "static"))
WORKING = [OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED]


def _shell(name: str) -> Any:
    def page(request: Request) -> HTMLResponse:
        context = {"page": name, "pages": PAGES, "admin_pages": ADMIN_PAGES}
        context["live"] = LIVE.get(name, "")
        return templates.TemplateResponse(request, "shell.html", context)

    return page


for _path, _name, _title in PAGES:
    router.add_api_route(_path, _shell(_name), methods=["GET"], response_class=HTMLResponse)


def _render(request: Request, name: str, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, f"{name}.html", context)


@router.get("/console/overview", response_class=HTMLResponse)
def overview(request: Request, services: ServicesDep, store: StoreDep, _: Reader) -> HTMLResponse:
    return _render(request, "overview", view=views.overview(services, store))


@router.get("/console/positions", response_class=HTMLResponse)
def positions(
    request: Request,
    services: ServicesDep,
    store: StoreDep,
    _: Reader,
    page: Paging,
    account: Identifier | None = None,
    status: Status = "open",
) -> HTMLResponse:
    where = PositionFilter(account=account, status=status)
    found = store.portfolio.positions(where, page)
    plans, working = exit_view(services, account)
    rows = []
    for item in found.items:
        position = item.tracked.position
        mark = position.average_entry if item.mark is None else item.mark.price
        key = (position.account, position.strategy, position.symbol)
        exits = exits_of(plans.get(key), working, item)
        protection = [exits.get(ExitKind.STOP_LOSS), exits.get(ExitKind.TAKE_PROFIT)]
        rows.append((item.tracked, mark, position.unrealized_pnl(mark), protection))
    query = {"account": account or "", "status": status}
    return _render(request, "positions", rows=rows, total=found.total, page=page, query=query)


@router.get("/console/orders", response_class=HTMLResponse)
def orders(
    request: Request,
    store: StoreDep,
    _: Reader,
    page: Paging,
    account: Identifier | None = None,
    symbol: Symbol | None = None,
    status: OrderStatus | None = None,
) -> HTMLResponse:
    working = [
        entry
        for state in WORKING
        for entry in store.portfolio.orders(LedgerFilter(account, status=state.value), page)[0]
    ]
    where = LedgerFilter(account, None, symbol, status.value if status else None)
    found, total = store.portfolio.orders(where, page)
    query = {"account": account or "", "symbol": symbol or "", "status": status or ""}
    context = {"working": working, "orders": found, "total": total, "page": page}
    context |= {"query": query, "statuses": [s.value for s in OrderStatus]}
    return _render(request, "orders", **context)


@router.get("/console/fills", response_class=HTMLResponse)
def fills(
    request: Request,
    store: StoreDep,
    _: Reader,
    page: Paging,
    account: Identifier | None = None,
    symbol: Symbol | None = None,
    since: AwareDatetime | None = None,
) -> HTMLResponse:
    where = LedgerFilter(account, None, symbol, since=since)
    # Newest first: the ledger lists oldest first, so read that order from its end.
    total = store.portfolio.fills(where, Page(limit=1))[1]
    size = min(page.limit, total - page.offset)
    start = max(total - page.offset - page.limit, 0)
    found = store.portfolio.fills(where, Page(size, start))[0][::-1] if size > 0 else []
    query = {"account": account or "", "symbol": symbol or ""}
    return _render(request, "fills", fills=found, total=total, page=page, query=query)


@router.get("/console/pnl", response_class=HTMLResponse)
def pnl(
    request: Request, store: StoreDep, _: Reader, account: Identifier | None = None
) -> HTMLResponse:
    """The curves, the trade metrics of GET /analytics/summary and the latest trades."""
    summary = analytics.summarize(store, account)
    now = store.ledger.clock.now()
    recent = store.trips.find(TripFilter(account=account), Page(limit=20))[0]
    trades = [analytics.TradeOut.of(trip, now) for trip in recent]
    return _render(request, "pnl", account=account or "", summary=summary, trades=trades)


@router.get("/console/pnl.json")
def pnl_series(store: StoreDep, _: Reader, account: Identifier | None = None) -> JSONResponse:
    """Chart series as [unix seconds, decimal string] pairs (the chart plots floats)."""
    history = SqlHistory(store.database).pnl(account)

    def series(points: list[Any]) -> list[tuple[float, str]]:
        return [(point.at.timestamp(), str(point.value)) for point in points]

    return JSONResponse({"snapshots": series(history.snapshots), "fills": series(history.fills)})


@router.get("/console/risk", response_class=HTMLResponse)
def risk(request: Request, services: ServicesDep, store: StoreDep, _: Reader) -> HTMLResponse:
    accounts, _total = store.accounts.find(views.EVERY)
    context = {
        "limits": views.limits(services),
        "switches": views.switches(services, store, accounts),
        "quotas": store.quotas.find(views.EVERY)[0],
        "allocations": store.funds.allocations(views.EVERY)[0],
        "warning": services.settings.unrealized_loss_warning,
    }
    return _render(request, "risk", **context)


@router.get("/console/accounts", response_class=HTMLResponse)
def accounts(request: Request, store: StoreDep, _: Reader, page: Paging) -> HTMLResponse:
    found, total = store.accounts.find(page)
    balances = store.funds.balances(views.EVERY)[0]
    context = {"accounts": found, "total": total, "page": page, "balances": balances}
    return _render(request, "accounts", query={}, **context)


@router.get("/console/audit", response_class=HTMLResponse)
def audit(
    request: Request,
    store: StoreDep,
    _: Reader,
    page: Paging,
    entity: Identifier | None = None,
    since: AwareDatetime | None = None,
) -> HTMLResponse:
    entries, total = store.audit.entries(page, entity=entity, since=since)
    query = {"entity": entity or ""}
    return _render(request, "audit", entries=entries, total=total, page=page, query=query)


@router.get("/console/signals", response_class=HTMLResponse)
def signals(
    request: Request,
    store: StoreDep,
    _: Reader,
    page: Paging,
    status: SignalStatus | None = None,
    account: Identifier | None = None,
    symbol: Symbol | None = None,
) -> HTMLResponse:
    where = SignalFilter(status.value if status else None, account, symbol=symbol)
    fates, total = store.outcomes.signals(where, page)
    query = {"account": account or "", "symbol": symbol or "", "status": status or ""}
    context = {"fates": fates, "total": total, "page": page, "query": query}
    return _render(request, "signals", statuses=[s.value for s in SignalStatus], **context)


@router.get("/console/reconciliation", response_class=HTMLResponse)
def reconciliation(
    request: Request, store: StoreDep, _: Reader, page: Paging, account: Identifier | None = None
) -> HTMLResponse:
    reports, total = store.outcomes.reports(page, account)
    letters = store.outcomes.dead_letters(Page(limit=50))[0]
    query = {"account": account or ""}
    context = {"reports": reports, "total": total, "page": page, "query": query}
    return _render(request, "reconciliation", letters=letters, **context)


@router.get("/console/admin", response_class=HTMLResponse)
def admin(request: Request, store: StoreDep, _: Admin) -> HTMLResponse:
    return _render(
        request,
        "admin",
        tokens=store.tokens.all(),
        current_key=store.accounts.vault.keyring().current,
        key_versions=store.accounts.key_versions(),
    )
