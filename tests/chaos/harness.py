"""A chaos plan played on the emulator stack, and what it left behind read back.

The signals are published as a strategy would (the production publisher, ordering keys),
their extra copies at once without an ordering key or later with one; meanwhile function
servers are SIGKILLed (each started again by the stack, the executor once only after a
15 s outage) and reconcile is called. Then the run settles, reconcile sweeps (as its
schedule would), and `observe()` gathers every source of truth for tests/invariants.py.
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
from typing import Any

from google.api_core.exceptions import AlreadyExists
from google.cloud import pubsub_v1
from sqlalchemy import select

from stratus.adapters.clock import SystemClock
from stratus.adapters.exchange_gateway import ExchangeGateway, parse_order
from stratus.adapters.firestore_state import FirestoreStateStore
from stratus.adapters.pubsub_bus import PubSubBus
from stratus.adapters.sql.admin_tables import ReservationRow
from stratus.adapters.sql.db import Database
from stratus.adapters.sql.ledger import SqlLedger
from stratus.adapters.sql.tables import OrderRow
from stratus.contracts import codec
from stratus.domain.orders import OrderRecord, OrderRejection, OrderStatus
from stratus.local.stack import Stack
from stratus.ports import Exchanges
from stratus.scheduling import headers_for
from tests.chaos.plan import OUTAGE_SECONDS, SYMBOLS, Plan
from tests.invariants import DeadLetter, ExchangeOrder, LedgerOrder, Observed

REJECTIONS = "order-rejections-chaos"  # a pull subscription the run reads rejections from
QUIET_SECONDS = 3.0


class ChaosRun:
    def __init__(self, stack: Stack, plan: Plan, exchanges: Exchanges) -> None:
        self.stack, self.plan, self.exchanges = stack, plan, exchanges
        self.project = stack.config.project
        self.database = Database.from_url(stack.config.database_url)
        self.ledger = SqlLedger(self.database, migrate=False)
        self.state = FirestoreStateStore(self.project, SystemClock())
        self.subscriber = pubsub_v1.SubscriberClient()
        self.rejections: list[OrderRejection] = []
        self.dead_letters: list[DeadLetter] = []
        self.notes = [plan.describe()]
        self._start = 0.0
        self._subscribe(REJECTIONS, "order-rejections")

    # --- the run -------------------------------------------------------------------------

    def execute(self, settle_seconds: float = 150.0) -> dict[str, Any]:
        """Play the plan, let the stack settle, sweep with reconcile; its report."""
        self._start = time.monotonic()
        faults = threading.Thread(target=self._faults, name="chaos-faults")
        faults.start()
        try:
            self._publish()
        finally:
            faults.join()
        self.settle(settle_seconds)
        report = self.reconcile()
        self.settle(60.0)  # what the sweep published (fills it adopted or flushed)
        return report

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
                found = self.reconcile()
                self.notes.append(f"mid-run reconcile at {fault.at:.0f} s: {_brief(found)}")
            else:
                down = OUTAGE_SECONDS if fault.action == "outage" else 0.0
                self.stack.kill(fault.function, keep_down_seconds=down)

    def _wait(self, at: float) -> None:
        delay = self._start + at - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def reconcile(self) -> dict[str, Any]:
        """Call reconcile as Cloud Scheduler does; its answer (a server just killed is
        called again once it is back)."""
        url = self.stack.endpoints.functions["reconcile"]
        headers = headers_for("reconcile-every-5-min", datetime.now(UTC))
        for _ in range(30):
            request = urllib.request.Request(url, data=b"", method="POST", headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=120) as reply:
                    answer: dict[str, Any] = json.load(reply)
                    return answer
            except urllib.error.HTTPError as error:
                failed: dict[str, Any] = json.load(error)
                return failed
            except (urllib.error.URLError, ConnectionError):
                time.sleep(1)
        raise AssertionError("reconcile never answered")

    def settle(self, timeout_seconds: float) -> None:
        """Wait until every signal is processed, every order final, every fill booked,
        and nothing changed for QUIET_SECONDS; past the timeout, note it and go on."""
        deadline = time.monotonic() + timeout_seconds
        last, quiet_since = None, time.monotonic()
        while time.monotonic() < deadline:
            self._read_letters()
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
        """Signals with no order, rejection or dead letter yet, but for closes that
        on_signal processed into nothing (the strategy was flat)."""
        decided = {r.request.signal_id for r in documents}
        decided.update(r.signal_id for r in self.rejections)
        decided.update(letter.field("signal_id") or "" for letter in self.dead_letters)
        waiting = [p.signal for p in self.plan.signals if p.signal.signal_id not in decided]
        closes = self.processed(*(s.signal_id for s in waiting if s.action == "close"))
        return [s.signal_id for s in waiting if s.signal_id not in closes]

    def processed(self, *signal_ids: str) -> set[str]:
        """Those of the signals on_signal finished (its idempotency key is set)."""
        return {sid for sid in signal_ids if self.state.is_done(f"on_signal:{sid}")}

    # --- reading back ----------------------------------------------------------------------

    def documents(self) -> list[OrderRecord]:
        return [r for account in self.plan.accounts for r in self.state.orders(account)]

    def observe(self, report: dict[str, Any]) -> Observed:
        accounts = self.plan.accounts
        self._read_letters()
        with self.database.transaction() as session:
            rows = session.scalars(select(OrderRow).where(OrderRow.account.in_(accounts)))
            ledger_orders = [
                LedgerOrder(
                    row.client_order_id,
                    row.request_id,
                    row.exchange_order_id,
                    OrderStatus(row.status),
                    row.filled,
                )
                for row in rows
            ]
            held = set(
                session.scalars(
                    select(ReservationRow.request_id).where(
                        ReservationRow.held.is_(True), ReservationRow.account.in_(accounts)
                    )
                )
            )
        orders, positions = exchange_truth(self.exchanges, accounts)
        documents = self.documents()
        fills = [f for account in accounts for f in self.ledger.fills(account)]
        statuses = Counter(str(r.status) for r in documents)
        reasons = Counter(letter.attributes.get("reason", "") for letter in self.dead_letters)
        self.notes.append(
            f"{len(documents)} orders {dict(statuses)}, {len(fills)} fills, "
            f"{len(self.rejections)} risk rejections, dead letters {dict(reasons)}, "
            f"{self.stack.supervisor.restarts if self.stack.supervisor else 0} server restarts"
        )
        signals = [planned.signal for planned in self.plan.signals]
        return Observed(
            signals=signals,
            processed=self.processed(*(signal.signal_id for signal in signals)),
            documents=documents,
            ledger_orders=ledger_orders,
            fills=fills,
            positions=[p for account in accounts for p in self.ledger.positions(account)],
            exchange_orders=orders,
            exchange_positions=positions,
            held_reservations=held,
            rejections=self.rejections,
            dead_letters=self.dead_letters,
            reconcile_report=report,
            notes=self.notes,
        )

    def _subscribe(self, name: str, topic: str) -> None:
        path = self.subscriber.subscription_path(self.project, name)
        topic_path = f"projects/{self.project}/topics/{topic}"
        with contextlib.suppress(AlreadyExists):  # a run before this one made it
            self.subscriber.create_subscription(request={"name": path, "topic": topic_path})

    def _read_letters(self) -> None:
        """Take what the rejections and dead-letter subscriptions hold (and ack it)."""
        for data, _ in self._pull(REJECTIONS):
            rejection = codec.decode("order-rejections", data)
            assert isinstance(rejection, OrderRejection)
            self.rejections.append(rejection)
        for topic in self.stack.topology.topics:
            dead = self.stack.topology.dead_letter_topic(topic)
            self.dead_letters.extend(DeadLetter(dead, d, a) for d, a in self._pull(dead))

    def _pull(self, subscription: str) -> list[tuple[bytes, dict[str, str]]]:
        path = self.subscriber.subscription_path(self.project, subscription)
        taken: list[tuple[bytes, dict[str, str]]] = []
        while True:
            reply = self.subscriber.pull(
                subscription=path, max_messages=500, return_immediately=True
            )
            if not reply.received_messages:
                return taken
            taken.extend(
                (r.message.data, dict(r.message.attributes)) for r in reply.received_messages
            )
            self.subscriber.acknowledge(
                subscription=path, ack_ids=[r.ack_id for r in reply.received_messages]
            )


def exchange_truth(
    exchanges: Exchanges, accounts: list[str]
) -> tuple[list[ExchangeOrder], dict[tuple[str, str], Any]]:
    """Every order and net position of the accounts, as the exchange lists them (through
    the same ccxt-shaped client the functions use)."""
    orders, positions = [], {}
    for account in accounts:
        gateway = exchanges.for_account(account)
        assert isinstance(gateway, ExchangeGateway)
        listings: list[Callable[..., list[dict[str, Any]]]] = [
            gateway.client.fetch_open_orders,
            gateway.client.fetch_canceled_and_closed_orders,
        ]
        for symbol in SYMBOLS:
            for listing in listings:
                for raw in listing(symbol):
                    seen = parse_order(raw)
                    orders.append(
                        ExchangeOrder(
                            account,
                            str(raw.get("clientOrderId") or ""),
                            seen.exchange_order_id,
                            symbol,
                            seen.status,
                            seen.filled,
                        )
                    )
        positions.update({(account, p.symbol): p.quantity for p in gateway.positions()})
    return orders, positions


def _brief(report: dict[str, Any]) -> str:
    accounts = report.get("accounts", {})
    found = {
        account: {
            k: v for k, v in r.items() if k in ("adopted_fills", "lost_orders", "drifts") and v
        }
        for account, r in accounts.items()
    }
    return json.dumps({"found": found, "failed": report.get("failed", {})}, default=str)
