"""The pipeline through the real emulators: Pub/Sub push -> functions-framework servers,
order state in the Firestore emulator, fills and positions in PostgreSQL."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from decimal import Decimal as D

import pytest
from google.api_core.exceptions import InvalidArgument
from google.cloud import pubsub_v1
from tests.emulator.helpers import (
    BTC,
    ETH,
    SOL,
    dead_letters,
    eventually,
    fills,
    opened,
    positions,
    publish,
    publish_burst,
    signal,
    unique,
)

from stratus.adapters.clock import SystemClock
from stratus.adapters.firestore_state import FirestoreStateStore
from stratus.domain.orders import OrderStatus
from stratus.local.stack import Stack
from stratus.service.handlers import ingest


def orders(stack: Stack, account: str) -> list[tuple[str, OrderStatus, D]]:
    state = FirestoreStateStore(stack.config.project, SystemClock())
    return [(r.client_order_id, r.status, r.request.quantity) for r in state.orders(account)]


def test_signals_end_in_exact_positions_fills_and_orders(stack: Stack) -> None:
    account = opened(stack, "acct-flow")
    publish(stack, signal(account, BTC, "buy", "0.02"))
    publish(stack, signal(account, ETH, "buy", "0.5"))
    publish(stack, signal(account, BTC, "sell", "0.005"))
    publish(stack, signal(account, SOL, "sell", "3"))

    done = eventually(lambda: fills(stack, account), lambda f: len(f) >= 4)

    assert sorted((f.symbol, f.side, f.quantity) for f in done) == [
        (BTC, "buy", D("0.02")),
        (BTC, "sell", D("0.005")),
        (ETH, "buy", D("0.5")),
        (SOL, "sell", D("3")),
    ]
    assert positions(stack, account) == {BTC: D("0.015"), ETH: D("0.5"), SOL: D("-3")}
    recorded = orders(stack, account)
    assert len(recorded) == 4
    assert {status for _, status, _ in recorded} == {OrderStatus.FILLED}


def test_a_duplicate_publish_trades_once(stack: Stack) -> None:
    account = opened(stack, "acct-dup")
    once = signal(account, BTC, "buy", "0.01")
    publish(stack, once)
    publish(stack, once)  # the same signal again: a new Pub/Sub message, same signal_id
    publish(stack, signal(account, BTC, "buy", "0.002"))  # same key: behind both copies

    eventually(lambda: positions(stack, account), lambda p: p.get(BTC) == D("0.012"))

    assert [f.quantity for f in fills(stack, account)] == [D("0.01"), D("0.002")]
    assert len(orders(stack, account)) == 2


def test_a_nacked_delivery_is_redelivered_and_applied_once(stack: Stack) -> None:
    """execute_order and update_position do their work, then fail the first delivery
    (the ack is lost); Pub/Sub redelivers, and the second run must change nothing."""
    account = opened(stack, "acct-nack")
    trace = unique("nack-once")
    publish(stack, signal(account, ETH, "buy", "0.3"), trace)
    # Ordered behind the nacked messages: it can only arrive once they were redelivered
    # and acknowledged.
    publish(stack, signal(account, ETH, "buy", "0.1"))

    eventually(lambda: positions(stack, account), lambda p: p.get(ETH) == D("0.4"))

    assert [f.quantity for f in fills(stack, account)] == [D("0.3"), D("0.1")]
    assert [status for _, status, _ in orders(stack, account)] == [OrderStatus.FILLED] * 2
    for function in ("execute_order", "update_position"):
        log = stack.processes[function].log_path.read_text()
        assert log.count("lost the ack") >= 1, f"{function} never failed a delivery"
    # The relay numbers the deliveries of a message, as Pub/Sub does (deliveryAttempt).
    log = stack.processes["execute_order"].log_path.read_text()
    [message_id] = set(re.findall(r"execute_order: lost the ack of (\S+)", log))
    assert f"message {message_id} delivery attempt 1\n" in log
    assert f"message {message_id} delivery attempt 2\n" in log
    assert dead_letters(stack, "orders", trace) == []


def test_a_poison_message_is_dead_lettered_and_unblocks_its_key(stack: Stack) -> None:
    account = opened(stack, "acct-poison")
    trace = unique("poison")
    publish(stack, signal(account, SOL, "buy", "2"), trace)
    publish(stack, signal(account, SOL, "buy", "1"))  # same ordering key, behind the poison

    letters = eventually(
        lambda: dead_letters(stack, "orders", trace), lambda found: len(found) == 1
    )

    attributes = letters[0].attributes
    attempts = stack.retry.max_delivery_attempts
    assert attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == str(attempts)
    assert attributes["CloudPubSubDeadLetterSourceSubscription"] == "orders-to-execute-order"
    assert attributes["reason"] == "max_delivery_attempts"
    assert attributes["detail"] == (
        f"{attempts} deliveries failed; the last: execute_order answered HTTP 500"
    )
    assert attributes["function"] == "execute_order"
    assert json.loads(letters[0].data)["quantity"] == "2"
    eventually(lambda: positions(stack, account), lambda p: p.get(SOL) == D("1"))
    assert len(fills(stack, account)) == 1


def test_orders_wait_for_an_executor_that_is_down_instead_of_dead_lettering(
    stack: Stack,
) -> None:
    """The executor's whole server dies and stays down longer than the emulator takes to
    redeliver five times: the relay holds the attempts to the retry policy's backoff, and
    the server comes back (as Cloud Run starts a new instance) before the last one."""
    account = opened(stack, "acct-outage")
    trace = unique("t")
    executor = stack.processes["execute_order"]
    before = executor.pid
    stack.kill("execute_order", keep_down_seconds=5)  # SIGKILL to its whole process group
    publish(stack, signal(account, BTC, "buy", "0.01"), trace)
    publish(stack, signal(account, BTC, "buy", "0.002"))  # behind it on its ordering key

    eventually(
        lambda: positions(stack, account), lambda p: p.get(BTC) == D("0.012"), timeout_seconds=40
    )

    assert executor.pid != before
    assert [status for _, status, _ in orders(stack, account)] == [OrderStatus.FILLED] * 2
    assert dead_letters(stack, "orders", trace) == []


def test_a_message_that_can_never_work_is_dead_lettered_with_its_reason(stack: Stack) -> None:
    account = opened(stack, "acct-unknown")
    trace = unique("t")
    publish(stack, signal(account, "DOGE/USDT:USDT", "buy", "100"), trace)

    letters = eventually(
        lambda: dead_letters(stack, "signals", trace), lambda found: len(found) == 1
    )

    assert letters[0].attributes["reason"] == "unknown_symbol"
    assert letters[0].attributes["function"] == "on_signal"
    assert positions(stack, account) == {}


def test_orders_keep_publish_order_per_account_and_symbol(stack: Stack) -> None:
    account = opened(stack, "acct-order")
    quantities = [f"0.00{i}" for i in range(1, 10)]
    burst = []
    for quantity in quantities:
        burst.append(signal(account, BTC, "buy", quantity))
        burst.append(signal(account, ETH, "buy", quantity.replace("0.00", "0.0")))
    publish_burst(stack, burst)

    done = eventually(lambda: fills(stack, account), lambda f: len(f) >= 2 * len(quantities))

    # The paper exchange numbers orders as it receives them.
    btc = sorted((f.exchange_order_id, f.quantity) for f in done if f.symbol == BTC)
    assert [quantity for _, quantity in btc] == [D(q) for q in quantities]
    eth = sorted((f.exchange_order_id, f.quantity) for f in done if f.symbol == ETH)
    assert [quantity for _, quantity in eth] == [D(q) * 10 for q in quantities]


def test_the_schema_rejects_a_malformed_publish(stack: Stack) -> None:
    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(stack.config.project, "signals")
    with pytest.raises(InvalidArgument):
        publisher.publish(topic, b'{"not": "a signal"}').result(timeout=10)


def test_a_signed_webhook_reaches_the_ledger(stack: Stack) -> None:
    account = opened(stack, "acct-hook")
    body = json.dumps(
        {
            "signal_id": unique("hook"),
            "account": account,
            "strategy": "strat-a",
            "symbol": ETH,
            "action": "sell",
            "quantity": "0.2",
            "confidence": 0.95,
        }
    ).encode()
    stamp = str(int(time.time()))
    secret = stack.env().get("STRATUS_WEBHOOK_DEV_SECRET") or "stratus-dev-only-not-secret"
    request = urllib.request.Request(
        stack.endpoints.functions["ingest_signal"],
        data=body,
        method="POST",
        headers={
            ingest.SOURCE_HEADER: "demo",
            ingest.TIMESTAMP_HEADER: stamp,
            ingest.SIGNATURE_HEADER: ingest.sign(secret, stamp, body),
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 202

    eventually(lambda: positions(stack, account), lambda p: p.get(ETH) == D("-0.2"))
