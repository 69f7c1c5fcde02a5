"""A chaos plan played on the emulator stack, and what it left behind read back.

The signals are published as a strategy would (the production publisher, ordering keys),
their extra copies at once without an ordering key or later with one; meanwhile function
servers are SIGKILLed (each started again by the stack, the executor once only after a
15 s outage) and the sweep and reconcile are called. Then the run settles, the sweep and
reconcile run once more (as their schedules would), and `world()` gathers every source
of truth for the invariants of tests/integration/pipeline/invariants.py.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from google.api_core.exceptions import AlreadyExists
from google.cloud import pubsub_v1
from sqlalchemy import select

from stratus.adapters.clock import SystemClock
from stratus.adapters.exchange_gateway import ExchangeGateway
from stratus.adapters.firestore_state import FirestoreStateStore
from stratus.adapters.pubsub_bus import PubSubBus
from stratus.adapters.sql.admin_tables import ReservationRow
from stratus.adapters.sql.audit import Page
from stratus.adapters.sql.db import Database
from stratus.adapters.sql.ledger import SqlLedger
from stratus.adapters.sql.portfolio import LedgerFilter, SqlPortfolio
from stratus.contracts import codec
from stratus.domain.orders import OrderRecord, OrderRejection, OrderRequest
from stratus.domain.reconciliation import ReconciliationReport
from stratus.local.stack import Stack
from stratus.ports import Exchanges
from stratus.scheduling import headers_for
from tests.chaos.plan import OUTAGE_SECONDS, SYMBOLS, Plan
from tests.integration.pipeline.invariants import DeadLetter, World

# Topics the checks need every message of, each read through a pull subscription.
TAPPED = ("order-requests", "order-rejections", "reconciliation-reports")
QUIET_SECONDS = 3.0


class ChaosRun:
    def __init__(self, stack: Stack, plan: Plan, exchanges: Exchanges) -> None:
        self.stack, self.plan, self.exchanges = stack, plan, exchanges
        self.project = stack.config.project
        self.database = Database.from_url(stack.config.database_url)
        self.ledger = SqlLedger(self.database, migrate=False)
        self.state = FirestoreStateStore(self.project, SystemClock())
        self.subscriber = pubsub_v1.SubscriberClient()
        self.requests: list[OrderRequest] = []
        self.rejections: list[OrderRejection] = []
        self.reports: list[ReconciliationReport] = []
        self.dead_letters: list[DeadLetter] = []
        self.notes = [plan.describe()]
        self._start = 0.0
        for topic in TAPPED:
            self._tap(topic)

    # --- the run -------------------------------------------------------------------------

    def execute(self, settle_seconds: float = 150.0) -> dict[str, Any]:
        """Play the plan, let the stack settle, run the sweep and reconcile as their
        schedules would; reconcile's answer (its reports are kept in `reports`)."""
        self._start = time.monotonic()
        faults = threading.Thread(target=self._faults, name="chaos-faults")
        faults.start()
        try:
            self._publish()
        finally:
            faults.join()
        self.settle(settle_seconds)
        self.call("sweep")
        self._read()
        self.reports.clear()  # the run's: what counts is what the last reconcile finds
        answer = self.call("reconcile")
        self.settle(60.0)  # what they published (fills owed, adopted or corrected)
        return answer

    def _publish(self) -> None:
        bus = PubSubBus(self.project)
        unordered = pubsub_v1.PublisherClient()
        topic = unordered.topic_path(self.project, "signals")
        later: list[tuple[float, int, bytes, str]] = []  # (due, tiebreak, data, trace)
        pending = []
        for number, planned in enumerate(self.plan.signals):
            self._sleep_until(planned.at, later, bus)
            data = codec.encode("signals", planned.signal)
            trace = planned.signal.signal_id
            bus.publish("signals", data, {"trace_id": trace})
            for copy in range(planned.copies - 1):
                if planned.later:
                    heapq.heappush(later, (planned.at + 2 + 2 * copy, number, data, trace))
                else:  # no ordering key: delivered concurrently with the first copy
                    pending.append(unordered.publish(topic, data, trace_id=trace))
        self._sleep_until(float("inf"), later, bus)
        for future in pending:
            future.result(timeout=30)

    def _sleep_until(
        self, at: float, later: list[tuple[float, int, bytes, str]], bus: PubSubBus
    ) -> None:
        """Wait for `at`, publishing the later copies that fall due meanwhile."""
        while later and later[0][0] <= at:
            due, _, data, trace = heapq.heappop(later)
            self._wait(due)
            bus.publish("signals", data, {"trace_id": trace})
        if at != float("inf"):
            self._wait(at)

    def _faults(self) -> None:
        for fault in self.plan.faults:
            self._wait(fault.at)
            if fault.action == "reconcile":
                swept, found = self.call("sweep"), self.call("reconcile")
                self.notes.append(f"mid-run at {fault.at:.0f} s: sweep {swept}, {_brief(found)}")
            else:
                down = OUTAGE_SECONDS if fault.action == "outage" else 0.0
                self.stack.kill(fault.function, keep_down_seconds=down)

    def _wait(self, at: float) -> None:
        delay = self._start + at - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def call(self, function: str) -> dict[str, Any]:
        """Call a scheduled function as Cloud Scheduler does; its answer (a server just
        killed is called again once it is back)."""
        url = self.stack.endpoints.functions[function]
        schedule = next(
            n for n, s in self.stack.topology.schedules.items() if s.function == function
        )
        for _ in range(30):
            headers = headers_for(schedule, datetime.now(UTC))
            request = urllib.request.Request(url, data=b"", method="POST", headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=120) as reply:
                    answer: dict[str, Any] = json.load(reply)
                    return answer
            except urllib.error.HTTPError as error:  # 503: some account could not be done
                failed: dict[str, Any] = json.load(error)
                return failed
            except (urllib.error.URLError, ConnectionError):
                time.sleep(1)
        raise AssertionError(f"{function} never answered")

    def settle(self, timeout_seconds: float) -> None:
        """Wait until every signal is decided, every order final, every fill booked,
        and nothing changed for QUIET_SECONDS; past the timeout, note it and go on."""
        deadline = time.monotonic() + timeout_seconds
        last, quiet_since = None, time.monotonic()
        while time.monotonic() < deadline:
            self._read()
            documents = self.documents()
            booked = {fill.fill_id for fill in self.ledger.fills()}
            progress = (
                sorted((r.client_order_id, r.status, r.version) for r in documents),
                len(booked),
                len(self.rejections),
                len(self.dead_letters),
            )
            done = (
                all(r.status.is_terminal for r in documents)
                and all(fill.fill_id in booked for r in documents for fill in r.fills)
                and not self._undecided(documents)
            )
            if progress != last:
                last, quiet_since = progress, time.monotonic()
            elif done and time.monotonic() - quiet_since >= QUIET_SECONDS:
                return
            time.sleep(0.5)
        self.notes.append(f"the stack did not settle within {timeout_seconds:.0f} s")

    def _undecided(self, documents: list[OrderRecord]) -> list[str]:
        """Signals with no order, rejection or dead letter yet, but for closes of nothing."""
        decided = {r.request.signal_id for r in documents}
        decided.update(r.signal_id for r in self.rejections)
        decided.update(_signal_id(letter) for letter in self.dead_letters)
        waiting = [p.signal for p in self.plan.signals if p.signal.signal_id not in decided]
        closes = self.nothing_to_close(s.signal_id for s in waiting if s.action == "close")
        return [s.signal_id for s in waiting if s.signal_id not in closes]

    def nothing_to_close(self, closes: Any) -> frozenset[str]:
        """Of these closes, those on_signal finished without an order request (its
        idempotency key is set, and no request of it was published)."""
        planned = {request.signal_id for request in self.requests}
        return frozenset(
            sid for sid in closes if sid not in planned and self.state.is_done(f"on_signal:{sid}")
        )

    # --- reading back ----------------------------------------------------------------------

    def documents(self) -> list[OrderRecord]:
        return [r for account in self.plan.accounts for r in self.state.orders(account)]

    def world(self) -> World:
        """Every source of truth, for the invariants (with a line of counts in `notes`)."""
        accounts = self.plan.accounts
        self._read()
        with self.database.transaction() as session:
            held = frozenset(
                session.scalars(
                    select(ReservationRow.request_id).where(ReservationRow.held.is_(True))
                )
            )
        entries, _ = SqlPortfolio(self.database, SystemClock()).orders(
            LedgerFilter(), Page(limit=100_000)
        )
        exchange_orders, exchange_positions = exchange_truth(self.exchanges, accounts)
        signals = [planned.signal for planned in self.plan.signals]
        closes = (s.signal_id for s in signals if s.action == "close")
        world = World(
            signals=signals,
            requests=self.requests,
            rejections=self.rejections,
            dead_letters=self.dead_letters,
            documents=self.documents(),
            exchange_orders=exchange_orders,
            exchange_positions=exchange_positions,
            ledger_fills=self.ledger.fills(),
            ledger_positions=self.ledger.positions(),
            ledger_orders=entries,
            held=held,
            reports=self.reports,
            nothing_to_close=self.nothing_to_close(closes),
        )
        statuses = Counter(str(r.status) for r in world.documents)
        reasons = Counter(d.attributes.get("reason", "") for d in self.dead_letters)
        restarts = self.stack.supervisor.restarts if self.stack.supervisor else 0
        self.notes.append(
            f"{len(world.documents)} orders {dict(statuses)}, {len(world.ledger_fills)} "
            f"fills, {len(self.rejections)} rejections, dead letters {dict(reasons)}, "
            f"{len(world.nothing_to_close)} closes of nothing, {restarts} server restarts"
        )
        return world

    def _tap(self, topic: str) -> None:
        path = self.subscriber.subscription_path(self.project, f"{topic}-chaos")
        topic_path = f"projects/{self.project}/topics/{topic}"
        with contextlib.suppress(AlreadyExists):  # a run before this one made it
            self.subscriber.create_subscription(request={"name": path, "topic": topic_path})

    def _read(self) -> None:
        """Take what the taps and the dead-letter subscriptions hold (and ack it)."""
        for data, _ in self._pull("order-requests-chaos"):
            self.requests.append(_decoded("order-requests", data, OrderRequest))
        for data, _ in self._pull("order-rejections-chaos"):
            self.rejections.append(_decoded("order-rejections", data, OrderRejection))
        for data, _ in self._pull("reconciliation-reports-chaos"):
            self.reports.append(_decoded("reconciliation-reports", data, ReconciliationReport))
        for topic in self.stack.topology.topics:
            dead = self.stack.topology.dead_letter_topic(topic)
            self.dead_letters.extend(DeadLetter(topic, d, a) for d, a in self._pull(dead))

    def _pull(self, subscription: str) -> list[tuple[bytes, dict[str, str]]]:
        path = self.subscriber.subscription_path(self.project, subscription)
        taken: list[tuple[bytes, dict[str, str]]] = []
        while True:
            reply = self.subscriber.pull(
                subscription=path, max_messages=500, return_immediately=True
            )
            if not reply.received_messages:
                return taken
            received = reply.received_messages
            taken.extend((r.message.data, dict(r.message.attributes)) for r in received)
            self.subscriber.acknowledge(subscription=path, ack_ids=[r.ack_id for r in received])


def exchange_truth(
    exchanges: Exchanges, accounts: list[str]
) -> tuple[Counter[str], dict[str, dict[str, Decimal]]]:
    """How many orders the exchange holds per clientOrderId, and its net positions per
    account, as it lists them (through the client the functions use)."""
    orders: Counter[str] = Counter()
    positions = {}
    for account in accounts:
        gateway = exchanges.for_account(account)
        assert isinstance(gateway, ExchangeGateway)
        listings: list[Callable[..., list[dict[str, Any]]]] = [
            gateway.client.fetch_open_orders,
            gateway.client.fetch_canceled_and_closed_orders,
        ]
        for symbol in SYMBOLS:
            for listing in listings:
                orders.update(str(raw.get("clientOrderId") or "") for raw in listing(symbol))
        positions[account] = {p.symbol: p.quantity for p in gateway.positions()}
    return orders, positions


def _decoded(topic: str, data: bytes, kind: type[Any]) -> Any:
    message = codec.decode(topic, data)
    assert isinstance(message, kind)
    return message


def _signal_id(letter: DeadLetter) -> str:
    try:
        return str(json.loads(letter.data).get("signal_id") or "")
    except (ValueError, AttributeError):
        return ""


def _brief(report: dict[str, Any]) -> str:
    shown = ("adopted_fills", "lost_orders", "drifts")
    accounts = report.get("accounts", {})
    found = {a: {k: v for k, v in r.items() if k in shown and v} for a, r in accounts.items()}
    return json.dumps({"reconcile": found, "failed": report.get("failed", {})}, default=str)
