"""The small interfaces between the core and the outside world.

Every outside system sits behind one of these Protocols, with an embedded implementation
(no cloud, no server) and a Google/real one. Handlers only ever see these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from stratus.domain.accounts import Account, Allocation, AssetBalance
from stratus.domain.exits import ExitPlan
from stratus.domain.market import Market, Marks, Quote
from stratus.domain.orders import ExchangeOrder, Fill, OrderRecord, OrderRequest
from stratus.domain.positions import Position
from stratus.domain.risk import TradingState

# Exchange wallet totals: account -> currency -> amount (negative where a currency is owed).
BalanceTotals = Mapping[str, Mapping[str, Decimal]]


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware UTC now."""
        ...


class EventBus(Protocol):
    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str]) -> None:
        """Publish one encoded message; returns once the bus has stored it."""
        ...

    def ping(self) -> None:
        """Raise when the bus cannot be reached."""
        ...


@dataclass(frozen=True)
class Envelope:
    """One message as a subscriber receives it."""

    message_id: str
    topic: str
    data: bytes
    attributes: Mapping[str, str]
    published_at: datetime


Watcher = Callable[[Envelope], None]


class Feed(Protocol):
    """Topics this process listens to beside the functions' subscriptions (the manager's
    console streams): the in-process bus, or its own Pub/Sub subscriptions."""

    def watch(self, name: str, topics: Iterable[str], watcher: Watcher) -> None:
        """Deliver what is published on `topics` from now on to `watcher`."""
        ...

    def unwatch(self, name: str) -> None:
        """Stop delivering to the watcher registered as `name` (and free what it held)."""
        ...


class Secrets(Protocol):
    def get(self, name: str) -> str:
        """The latest version of a secret; raises KeyError if it does not exist."""
        ...


class StateStore(Protocol):
    """Fast per-message execution state (Firestore in production, SQL embedded)."""

    def is_done(self, key: str) -> bool: ...

    def mark_done(self, key: str) -> None:
        """Record that the work identified by key is complete (idempotency ledger)."""
        ...

    def claim(self, key: str, ttl_seconds: int) -> bool:
        """Atomically record `key`; True for the first caller only (replay nonces).

        The key may be forgotten after ttl_seconds (a Firestore TTL policy)."""
        ...

    def increment(self, key: str, ttl_seconds: int) -> int:
        """Atomically add one to the counter `key` and return its new value (rate
        limits); one write. The counter may be forgotten after ttl_seconds."""
        ...

    def trading_state(self, scopes: Sequence[str]) -> dict[str, TradingState]:
        """Kill-switch positions set for these scopes ("global", "account:<id>",
        "strategy:<id>"); scopes never set are absent."""
        ...

    def set_trading_state(self, scope: str, state: TradingState, reason: str) -> None: ...

    def create_order(self, record: OrderRecord) -> bool:
        """Insert the order intent; False if one with that client_order_id exists."""
        ...

    def get_order(self, client_order_id: str) -> OrderRecord | None: ...

    def save_order(self, record: OrderRecord) -> OrderRecord:
        """Compare-and-set on record.version; returns the saved record (version + 1) or
        raises ConcurrentUpdate when another writer got there first."""
        ...

    def orders(
        self, account: str | None = None, live: bool = False, owed: bool = False
    ) -> list[OrderRecord]:
        """Order documents, oldest first; live=True keeps those still working, owed=True
        those whose effects are still owed (OrderRecord.owes). Filters combine."""
        ...

    def save_exit_plan(self, plan: ExitPlan) -> None:
        """Keep a strategy position's protective exits (replacing any it had; a plan
        without exits clears them, and says that the position once had some)."""
        ...

    def exit_plan(self, account: str, strategy: str, symbol: str) -> ExitPlan | None: ...

    def exit_plans(self) -> list[ExitPlan]:
        """Every plan that has exits, filtered by the store: cleared plans are never
        read (the watcher, the sweep and each positions page read these)."""
        ...


class Ledger(Protocol):
    """The system of record (the manager on Cloud SQL): fills, positions, snapshots."""

    def apply_fill(self, fill: Fill) -> Position | None:
        """Apply a fill once; None when this fill_id was already applied."""
        ...

    def position(self, account: str, strategy: str, symbol: str) -> Position:
        """The position (flat if never traded)."""
        ...

    def positions(self, account: str | None = None) -> list[Position]: ...

    def realized_pnl_since(self, account: str, since: datetime) -> Decimal:
        """Realized PnL net of fees from fills executed at or after `since`."""
        ...

    def fills(self, account: str | None = None) -> list[Fill]: ...

    def record_snapshot(
        self, taken_at: datetime, marks: Mapping[str, Decimal], balances: BalanceTotals
    ) -> bool:
        """Snapshot all positions (at `marks`) and the exchange balances together, once per
        taken_at: False, and nothing written, if a snapshot exists for it."""
        ...

    def record_order(self, record: OrderRecord) -> bool:
        """Upsert the orders ledger from the executor's order document (call it after
        each save_order); never moves an order backwards. True when something changed.
        An order in a final state gives its quota reservation back (Quotas.release) in
        the same transaction."""
        ...


class Exchange(Protocol):
    """The subset of ccxt's unified (synchronous) API that Stratus uses.

    Structures are ccxt-shaped dicts; amounts are floats as ccxt returns them, and the
    service layer converts to Decimal at this boundary.
    """

    id: str

    def load_markets(self, reload: bool = False) -> dict[str, Any]: ...

    def fetch_time(self, params: dict[str, Any] | None = None) -> int: ...

    def fetch_ticker(self, symbol: str) -> dict[str, Any]: ...

    def fetch_bids_asks(self, symbols: list[str]) -> dict[str, dict[str, Any]]: ...

    def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]: ...

    def fetch_order(
        self, id: str, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]: ...

    def cancel_order(
        self, id: str, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]: ...

    def fetch_open_orders(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]: ...

    def fetch_canceled_and_closed_orders(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]: ...

    def fetch_balance(self, params: dict[str, Any] | None = None) -> dict[str, Any]: ...

    def fetch_positions(
        self, symbols: list[str] | None = None, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]: ...


class Venue(Protocol):
    """An exchange in domain terms; ccxt shapes and errors are translated behind it."""

    @property
    def conditional_orders(self) -> bool:
        """True when the venue keeps protective exits itself: `place` sends a request
        with a trigger_price as the venue's own conditional order, and `lookup`, `cancel`
        and `open_orders` see it like any order. False: Stratus watches marks instead."""
        ...

    def market(self, symbol: str) -> Market:
        """Trading rules; raises UnknownSymbol."""
        ...

    def quote(self, symbol: str) -> Quote: ...

    def ping(self) -> None:
        """Raise ExchangeError when the exchange cannot be reached (a public call)."""
        ...

    def place(self, request: OrderRequest) -> ExchangeOrder:
        """Create the order under request.client_order_id; raises DuplicateOrder if that
        id was used, ExchangeUnavailable when the outcome is unknown, OrderRejected."""
        ...

    def lookup(self, client_order_id: str, symbol: str) -> ExchangeOrder | None:
        """The order placed under client_order_id, or None if the exchange has none."""
        ...

    def cancel(self, exchange_order_id: str, symbol: str) -> None: ...

    def equity(self) -> Decimal:
        """Account equity in the settlement currency."""
        ...

    def open_orders(self) -> list[VenueOrder]:
        """Every working order of the account, on all symbols."""
        ...

    def positions(self) -> list[VenuePosition]:
        """Open positions (flat symbols are absent)."""
        ...

    def balances(self) -> dict[str, Decimal]:
        """Total wallet balance per currency (the totals of `wallet`)."""
        ...

    def wallet(self) -> list[AssetBalance]:
        """Free, used and total of every currency the account holds."""
        ...


@dataclass(frozen=True)
class VenueOrder:
    """A working order as the exchange lists it (reconciliation compares these)."""

    client_order_id: str | None
    symbol: str
    placed_at: datetime
    order: ExchangeOrder
    trigger_price: Decimal | None = None  # a conditional order not yet triggered


@dataclass(frozen=True)
class VenuePosition:
    """A net position on the exchange: quantity signed (short < 0)."""

    symbol: str
    quantity: Decimal
    entry_price: Decimal
    mark_price: Decimal


@dataclass(frozen=True)
class StoredVenue:
    """One account's paper venue as stored: its document and its version (1 and up)."""

    version: int
    document: str


@dataclass(frozen=True)
class FinishedOrder:
    """A paper order that left its venue's book (filled or canceled), kept for lookups by
    id and clientOrderId at least until expires_at."""

    order_id: str
    client_order_id: str | None
    expires_at: datetime
    document: str


class PaperVenueStore(Protocol):
    """Where paper venues live between calls (beside the execution state: Firestore, or
    SQL embedded), so that every process of a stack trades on the same venue."""

    def load(self, account: str) -> StoredVenue | None:
        """The account's venue; None when it never traded (a new account)."""
        ...

    def save(
        self, account: str, version: int, document: str, finished: Sequence[FinishedOrder]
    ) -> None:
        """Store `document` as version + 1 with the finished orders, all or nothing
        (version 0 creates the account's venue); raises ConcurrentUpdate when the stored
        version is not `version`: another writer got there first."""
        ...

    def finished_orders(
        self, account: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> list[str]:
        """Documents of the account's finished orders, filtered by what is given."""
        ...

    def accounts(self) -> list[str]:
        """Accounts that have a stored venue, sorted."""
        ...


class MarketCache(Protocol):
    """Exchange market metadata (ccxt market dicts by symbol), so that a cold start can
    hand ccxt its markets (`set_markets`) instead of calling load_markets."""

    def get(self, key: str, max_age_seconds: int) -> dict[str, dict[str, Any]] | None:
        """The markets stored under key if younger than max_age_seconds, else None."""
        ...

    def put(self, key: str, markets: Mapping[str, Mapping[str, Any]]) -> None:
        """Store (replace) the markets under key, stamped now."""
        ...


class Quotas(Protocol):
    """Per-strategy quotas, reserved atomically by the risk check (the manager owns them)."""

    def reserve(self, request: OrderRequest, notional: Decimal) -> str | None:
        """Reserve quota for one order request, idempotently by request_id.

        Returns None when granted (also when this request already holds a reservation),
        else the machine-readable reason it was refused. Two concurrent reservations can
        never together pass a quota.
        """
        ...

    def release(self, request_id: str) -> None:
        """Give back what the request still holds (its order is final); idempotent."""
        ...


class Allocations(Protocol):
    """Capital allocated to each strategy of an account (the manager owns them)."""

    def allocation(self, account: str, strategy: str) -> Allocation:
        """The strategy's allocation; raises stratus.domain.records.NotFound if none."""
        ...

    def equity(self, account: str) -> Decimal | None:
        """The account's balance in its currency as the system of record holds it (from
        its exchange, or set by hand on a paper account); None while none is known."""
        ...


@dataclass(frozen=True)
class ExchangeAccount:
    """How to reach one account's exchange; secrets exist only in memory."""

    account: str
    exchange_id: str  # ccxt id: "bybit", "binance", ... or "paper"
    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    sandbox: bool = False  # the exchange's testnet
    demo: bool = False  # the exchange's demo-trading environment


class ExchangeCredentials(Protocol):
    """Decrypted exchange credentials per account, for the exchange layer."""

    def exchange_account(self, account: str) -> ExchangeAccount:
        """Raises KeyError for an unknown account."""
        ...

    def accounts(self) -> list[str]: ...


class AccountDirectory(ExchangeCredentials, Protocol):
    """Accounts and their decrypted exchange credentials (from the manager)."""

    def get(self, account: str) -> Account:
        """The account as anyone may see it, never its keys; raises NotFound, or
        Unavailable while the system of record cannot be reached."""
        ...


class Tickers(Protocol):
    """Latest prices of the symbols the watcher follows: polled, or streamed from the
    exchanges' WebSocket APIs."""

    def follow(self, symbols: Mapping[str, set[str]]) -> None:
        """Follow these symbols (by account: each account's exchange quotes its own)."""
        ...

    def marks(self) -> list[Marks]:
        """The marks quoted since the last call, one batch per exchange."""
        ...

    def close(self) -> None: ...


class Messenger(Protocol):
    """Sends one message to one notification destination (an Apprise URL)."""

    def send(self, url: str, title: str, body: str, severity: str) -> None:
        """Returns once the destination took it; raises DestinationFailed if it did not,
        PermanentError("bad_destination") for a URL no service understands."""
        ...


class Exchanges(Protocol):
    """Gives the venue for an account (credentials decrypted only in memory)."""

    def for_account(self, account: str) -> Venue: ...

    def accounts(self) -> Iterable[str]: ...
