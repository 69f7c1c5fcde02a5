"""The product owner's acceptance check, in process: a seeded stream of 300 signals over
three accounts and four strategies (buys, sells and closes; market and limit orders;
partial fills), then every position, average entry, realized PnL and fee recomputed
from the fills ledger by plain arithmetic written here (independently of
domain/positions.py) and compared to the last digit, and every account's net position on
the paper exchange held equal to the sum of its strategies' positions throughout."""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from stratus.adapters.clock import ManualClock
from stratus.adapters.exchange_gateway import ExchangeGateway
from stratus.adapters.local_bus import LocalBus
from stratus.adapters.paper.exchange import PaperExchange
from stratus.adapters.paper.feed import PriceFeed, Quote
from stratus.adapters.paper.venues import PaperVenues
from stratus.config import Settings
from stratus.domain.orders import Fill, Liquidity, OrderRecord, OrderStatus
from stratus.service.bootstrap import build
from stratus.service.reconciliation import reconcile_account
from stratus.service.services import Services
from tests.conftest import open_accounts

SEED = 20260105
SIGNALS = 300
START = datetime(2026, 1, 5, tzinfo=UTC)
TICK = timedelta(seconds=10)
STALE = timedelta(minutes=15)  # reconcile cancels what still works after this
ACCOUNTS = ("acct-a", "acct-b", "acct-c")
# Chance that an opening signal buys: hold leans long, hedge short, so closes often
# run against their account's net position.
STRATEGIES = {"hold": 0.85, "hedge": 0.15, "trend": 0.5, "meanrev": 0.5}
WALLET = D(100_000)  # each paper account's starting USDT


@dataclass(frozen=True)
class Walk:
    """A symbol's seeded random walk, and the sizes the stream trades in it."""

    price: D
    tick: D
    spread_ticks: int  # wide enough that unsure signals go limit (sizing's spread rule)
    sigma_ticks: int
    volume: tuple[int, int]  # per feed tick, in amount steps: large orders fill in parts
    step: D  # the market's amount step
    order: tuple[int, int]  # in amount steps


WALKS = {
    "BTC/USDT:USDT": Walk(D(60000), D("0.1"), 10, 120, (50, 500), D("0.001"), (10, 700)),
    "ETH/USDT:USDT": Walk(D(3000), D("0.01"), 5, 80, (100, 1000), D("0.01"), (10, 1200)),
    "SOL/USDT:USDT": Walk(D(150), D("0.01"), 2, 5, (100, 1000), D("0.1"), (10, 1200)),
}


def seeded_feed(rng: random.Random, ticks: int) -> PriceFeed:
    quotes = []
    for symbol, walk in WALKS.items():
        bid = walk.price
        for index in range(ticks):
            bid = max(bid + walk.tick * round(rng.gauss(0, walk.sigma_ticks)), walk.tick)
            volume = walk.step * rng.randint(*walk.volume)
            ask = bid + walk.tick * walk.spread_ticks
            quotes.append(Quote(symbol, START + TICK * index, bid, ask, bid, volume))
    return PriceFeed(quotes)


def paper(services: Services, account: str) -> PaperExchange:
    gateway = services.exchanges.for_account(account)
    assert isinstance(gateway, ExchangeGateway)
    assert isinstance(gateway.client, PaperExchange)
    return gateway.client


@dataclass
class Book:
    """One position recomputed by hand: weighted average entry, realized at that entry."""

    quantity: D = D(0)
    entry: D = D(0)
    realized: D = D(0)
    fees: D = D(0)

    def take(self, fill: Fill) -> None:
        self.fees += fill.fee
        delta = fill.quantity if fill.side.value == "buy" else -fill.quantity
        before = self.quantity
        after = before + delta
        same_way = before == 0 or (before > 0) == (delta > 0)
        if same_way:
            self.entry = (abs(before) * self.entry + fill.quantity * fill.price) / abs(after)
        else:
            closed = min(abs(delta), abs(before))
            per_unit = fill.price - self.entry if before > 0 else self.entry - fill.price
            self.realized += closed * per_unit
            if after == 0:
                self.entry = D(0)
            elif (after > 0) != (before > 0):
                self.entry = fill.price  # flipped: the rest opened at this fill
        self.quantity = after


class Stream:
    def __init__(self, services: Services, clock: ManualClock, rng: random.Random) -> None:
        self.services, self.clock, self.rng = services, clock, rng
        bus = services.bus
        assert isinstance(bus, LocalBus)
        self.bus = bus
        self.sent = 0
        self.checks = 0

    def send(self, **fields: object) -> None:
        self.sent += 1
        signal_id = f"sig-{self.sent:03d}"
        record = {
            "signal_id": signal_id, "source": "po", "confidence": 1.0,
            "created_at": self.clock.now().isoformat(), **fields,
        }  # fmt: skip
        self.bus.publish("signals", json.dumps(record).encode(), {"trace_id": signal_id})
        self.bus.drain()

    def random_signal(self) -> None:
        rng = self.rng
        account, strategy = rng.choice(ACCOUNTS), rng.choice(list(STRATEGIES))
        symbol = rng.choice(list(WALKS))
        walk = WALKS[symbol]
        unsure = rng.random() < 0.4  # a limit just inside the spread: rests, fills later
        fields: dict[str, object] = {"account": account, "strategy": strategy, "symbol": symbol}
        fields["confidence"] = 0.3 if unsure else 1.0
        if rng.random() < 0.3:
            fields["action"] = "close"
        else:
            buy = rng.random() < STRATEGIES[strategy]
            fields["action"] = "buy" if buy else "sell"
            fields["quantity"] = str(walk.step * rng.randint(*walk.order))
            if rng.random() < 0.15:  # a limit a few ticks away: may rest past STALE
                quote = self.services.exchanges.for_account(account).quote(symbol)
                away = walk.tick * rng.randint(0, 3 * walk.sigma_ticks)
                fields["limit_price"] = str(quote.bid - away if buy else quote.ask + away)
        self.send(**fields)

    def reconcile(self) -> None:
        """Reconcile every account; then each account's net on the exchange is the sum of
        its strategies' positions, symbol by symbol."""
        for account in ACCOUNTS:
            report = reconcile_account(self.services, account)
            self.bus.drain()
            assert report.drifts == [], report
            assert report.lost_orders == report.unknown_orders == []
            ledger: dict[str, D] = defaultdict(D)
            for position in self.services.ledger.positions(account):
                ledger[position.symbol] += position.quantity
            exchange = self.services.exchanges.for_account(account).positions()
            assert {p.symbol: p.quantity for p in exchange} == {
                s: q for s, q in ledger.items() if q != 0
            }
        self.checks += 1


@pytest.fixture
def stream() -> Stream:
    rng = random.Random(SEED)
    feed = seeded_feed(rng, ticks=1000)
    clock = ManualClock(START + TICK)
    settings = Settings(database_url="sqlite://", stale_order_seconds=int(STALE.total_seconds()))
    services = build(
        settings, clock=clock, exchanges=PaperVenues(clock, feed), sleep=lambda _s: None
    )
    open_accounts(services, *ACCOUNTS)
    return Stream(services, clock, rng)


def test_positions_pnl_and_fees_recomputed_from_the_fills_ledger(stream: Stream) -> None:
    services, clock, rng = stream.services, stream.clock, stream.rng
    most_held = len(ACCOUNTS) * len(STRATEGIES) * len(WALKS)  # the closes at the end
    for index in range(SIGNALS - most_held):
        clock.advance(timedelta(seconds=rng.randint(5, 40)))
        stream.random_signal()
        if index % 10 == 9:
            stream.reconcile()
    clock.advance(STALE + TICK)
    stream.reconcile()  # what still works is canceled, fills adopted
    assert services.state.orders(live=True) == []
    # The last signals close every strategy still holding, then flat ones: nothing to do.
    holding = [p for p in services.ledger.positions() if p.is_open]
    for position in holding:
        stream.send(account=position.account, strategy=position.strategy,
                    symbol=position.symbol, action="close")  # fmt: skip
    while stream.sent < SIGNALS:
        stream.send(account=rng.choice(ACCOUNTS), strategy=rng.choice(list(STRATEGIES)),
                    symbol=rng.choice(list(WALKS)), action="close")  # fmt: skip
    stream.reconcile()

    bus = stream.bus
    assert stream.sent == SIGNALS
    assert stream.checks == (SIGNALS - most_held) // 10 + 2
    assert [topic for topic in bus.history if topic.endswith("dead-letter")] == []
    orders = services.state.orders()
    outcomes(bus, orders)

    # Every position recomputed from the fills ledger, in its order, to the last digit.
    fills = services.ledger.fills()
    books: dict[tuple[str, str, str], Book] = defaultdict(Book)
    for fill in fills:
        books[fill.account, fill.strategy, fill.symbol].take(fill)
    positions = {(p.account, p.strategy, p.symbol): p for p in services.ledger.positions()}
    assert set(positions) == set(books)
    for key, book in books.items():
        kept = positions[key]
        assert (kept.quantity, kept.average_entry, kept.realized_pnl, kept.fees) == (
            book.quantity, book.entry, book.realized, book.fees,
        ), key  # fmt: skip
        assert book.quantity == 0  # everything was closed at the end

    # Against each exchange account: the fees trade by trade; the wallet moved by the
    # fills' cash flows net of fees, exactly; and, all flat now, by what the strategies
    # realized (entries are quotients kept to 28 digits, hence the tolerance).
    for account in ACCOUNTS:
        mine = [f for f in fills if f.account == account]
        venue = paper(services, account)
        fees = sum((f.fee for f in mine), D(0))
        assert fees == sum((t.fee for t in venue.trades()), D(0))
        cash = sum((f.quantity * f.price * -f.side.sign for f in mine), D(0))
        wallet = D(str(venue.fetch_balance()["total"]["USDT"])) - WALLET
        assert wallet == cash - fees
        realized = sum((b.realized - b.fees for k, b in books.items() if k[0] == account), D(0))
        assert abs(realized - wallet) < D("1e-12")
        assert venue.fetch_positions() == []

    # The stream exercised what the check is about.
    placed = {
        o["clientOrderId"]: o
        for account in ACCOUNTS
        for o in paper(services, account).fetch_canceled_and_closed_orders()
    }
    closes = [r for r in orders if r.request.closes_position]
    flags = Counter(placed[r.client_order_id]["reduceOnly"] for r in closes)
    assert flags[True] >= 10, "closes that shrank their account's net"
    assert flags[False] >= 10, "closes against it, or limit closes"
    assert not any(placed[r.client_order_id]["reduceOnly"] for r in closes if r.request.limit_price)
    assert all(r.status is OrderStatus.FILLED for r in closes if r.request.limit_price is None)
    assert sum(1 for r in orders if len(r.fills) > 1) >= 5, "partial fills"
    assert sum(1 for f in fills if f.liquidity is Liquidity.MAKER) >= 20, "resting limits filled"
    assert any(r.status is OrderStatus.CANCELED and r.filled for r in orders), "stale, part filled"


def outcomes(bus: LocalBus, orders: list[OrderRecord]) -> None:
    """Every signal ended in orders, a risk rejection, or (a close of a strategy holding
    nothing) nothing to close; and no close was refused for any other reason."""
    ordered = {r.request.signal_id for r in orders}
    requested = {json.loads(e.data)["signal_id"] for e in bus.messages("order-requests")}
    rejected = [json.loads(e.data) for e in bus.messages("order-rejections")]
    sent = [json.loads(e.data) for e in bus.messages("signals")]
    actions = {signal["signal_id"]: signal["action"] for signal in sent}
    refused = {r["signal_id"] for r in rejected}
    for signal_id, action in actions.items():
        nothing_to_close = action == "close" and signal_id not in requested
        assert signal_id in ordered | refused or nothing_to_close, signal_id
    assert {r["reason"] for r in rejected if actions[r["signal_id"]] == "close"} <= {
        "nothing_to_close"
    }
