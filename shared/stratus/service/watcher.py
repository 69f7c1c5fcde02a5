"""The watcher: what must not wait for the next schedule (docs/live.md).

Cloud Scheduler's finest period is a minute, so one small always-on process (`stratus
watch`; inside `stratus up` on a laptop) keeps three things fresh for every account:

- marks of every symbol with an open position or a working order, published on `marks`
  (the manager stores them and streams them to the console), from `Tickers`;
- resting orders: each account with working orders has its open orders listed every
  `order_seconds` (one request); an order that filled or left the book is followed at
  once (reconciliation's follow pass), so its fills reach positions within seconds;
- balances: each account's wallet on `balances` every `balance_seconds`, at once for an
  account it has not seen and after an order of it moved;
- watched protective exits (docs/exits.md): where the venue keeps no conditional
  orders, each mark is checked against the triggers of the open positions' exit plans,
  and a crossing sends the position's close signal (once: its id is the position's).

Reconcile stays the safety net: the watcher only makes things happen sooner. A failing
account or exchange is logged and tried again next round; it never stops the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from stratus.config import WatchPolicy
from stratus.domain.accounts import Balances
from stratus.domain.errors import ConcurrentUpdate, ExchangeError, PermanentError
from stratus.domain.exits import ExitPlan
from stratus.domain.orders import OrderRecord
from stratus.domain.positions import Position
from stratus.observability import log_fields
from stratus.ports import Tickers
from stratus.service.exits import check_marks, protected
from stratus.service.reconciliation import follow_orders
from stratus.service.services import Services

log = logging.getLogger(__name__)

TICK_SECONDS = 0.1  # how often the loop looks whether a job is due
TROUBLE = (ExchangeError, PermanentError, ConcurrentUpdate, KeyError, OSError)


@dataclass
class Scope:
    """What is worth watching right now."""

    symbols: dict[str, set[str]] = field(default_factory=dict)  # account -> symbols
    accounts: list[str] = field(default_factory=list)
    protected: list[tuple[ExitPlan, Position]] = field(default_factory=list)


def scope_of(services: Services) -> Scope:
    symbols: dict[str, set[str]] = defaultdict(set)
    positions = services.ledger.positions()
    for position in positions:
        if position.is_open:
            symbols[position.account].add(position.symbol)
    for record in services.state.orders(live=True):
        symbols[record.request.account].add(record.request.symbol)
    # Every account of the system of record: a new one has its balances at once.
    accounts = sorted({*services.accounts.accounts(), *services.exchanges.accounts(), *symbols})
    return Scope(dict(symbols), accounts, protected(services, positions))


class Watcher:
    def __init__(
        self,
        services: Services,
        tickers: Tickers,
        policy: WatchPolicy | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._services = services
        self._tickers = tickers
        self._policy = policy or services.settings.watch
        self._monotonic = monotonic
        self._scope = Scope()
        self._due: dict[str, float] = {}  # job -> when it runs next
        self._wallets: dict[str, float] = {}  # account -> when its balances are due
        self._exits_sent: set[str] = set()  # close signals of watched exits sent
        self.rounds = 0  # completed rounds of the order job (health, tests)
        self.last_error = ""

    def step(self) -> None:
        """Run every job whose time has come."""
        policy = self._policy
        for job, every, run in (
            ("scope", policy.scope_seconds, self._refresh_scope),
            ("marks", policy.mark_seconds, self._publish_marks),
            ("orders", policy.order_seconds, self._follow_orders),
            ("balances", 1.0, self._refresh_balances),
        ):
            now = self._monotonic()
            if now >= self._due.get(job, 0.0):
                self._due[job] = now + every
                try:
                    run()
                except Exception as error:  # one bad round must not end the watch
                    self.last_error = f"{job}: {error!r}"
                    log.exception("watcher job %s failed", job)

    def run(self, stop: threading.Event) -> None:
        """Watch until `stop` is set."""
        try:
            while not stop.is_set():
                self.step()
                stop.wait(TICK_SECONDS)
        finally:
            self._tickers.close()

    def _refresh_scope(self) -> None:
        self._scope = scope_of(self._services)
        self._tickers.follow(self._scope.symbols)
        for account in self._scope.accounts:
            self._wallets.setdefault(account, 0.0)  # a new account: its balances at once

    def _publish_marks(self) -> None:
        latest: dict[str, Decimal] = {}
        for marks in self._tickers.marks():
            if marks.marks:
                self._services.publish("marks", marks)
                latest.update((mark.symbol, mark.price) for mark in marks.marks)
        if latest and self._scope.protected:
            check_marks(self._services, self._scope.protected, latest, self._exits_sent)

    def _follow_orders(self) -> None:
        """Every round reads the working order documents afresh (one query), so an
        order placed a moment ago is followed from the next round on."""
        placed: dict[str, list[OrderRecord]] = defaultdict(list)
        for record in self._services.state.orders(live=True):
            if record.exchange_order_id is not None:  # on the exchange, not being sent
                placed[record.request.account].append(record)
        for account, records in sorted(placed.items()):
            try:
                if self._moved(account, records):
                    follow_orders(self._services, account)
                    self._wallets[account] = 0.0  # its fills moved the wallet
            except TROUBLE as trouble:
                self._trouble("orders", account, trouble)
        self.rounds += 1

    def _moved(self, account: str, records: list[OrderRecord]) -> bool:
        """Whether an order of the account left the book or filled more than its
        document says (one request: the account's open orders)."""
        listed = {
            order.client_order_id: order.order.filled
            for order in self._services.exchanges.for_account(account).open_orders()
        }
        return any(listed.get(r.client_order_id) != r.filled for r in records)

    def _refresh_balances(self) -> None:
        now = self._monotonic()
        for account, due in sorted(self._wallets.items()):
            if now < due:
                continue
            self._wallets[account] = now + self._policy.balance_seconds
            try:
                assets = self._services.exchanges.for_account(account).wallet()
            except TROUBLE as trouble:
                self._trouble("balances", account, trouble)
                continue
            fetched_at = self._services.clock.now()
            wallet = Balances(account=account, fetched_at=fetched_at, assets=assets)
            self._services.publish("balances", wallet)

    def _trouble(self, job: str, account: str, trouble: Exception) -> None:
        self.last_error = f"{job} {account}: {trouble}"
        log.warning(
            "watcher could not reach an account",
            extra=log_fields(job=job, account=account, error=str(trouble)),
        )
