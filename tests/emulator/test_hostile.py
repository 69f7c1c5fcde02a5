"""Hostile input on the emulator stack: the corpus published straight to the signals topic,
bypassing the webhook, and a flood of one signed request at the webhook function (rate
limit and replay claims in the Firestore emulator)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from google.api_core.exceptions import InvalidArgument
from google.cloud import pubsub_v1
from tests.emulator.conftest import WEBHOOK_SECRETS
from tests.emulator.helpers import BTC, dead_letters_of, eventually, fills, opened, unique
from tests.integration.hostile import DISABLED, OPEN, load

from stratus.adapters.clock import SystemClock
from stratus.adapters.firestore_state import FirestoreStateStore
from stratus.config import Settings
from stratus.local.stack import Stack
from stratus.service.handlers import ingest


def manager(stack: Stack, method: str, path: str, body: dict[str, object]) -> None:
    token = Settings().manager_dev_token.get_secret_value()
    request = urllib.request.Request(
        f"{stack.endpoints.manager}/api/v1{path}",
        data=json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).close()


def test_bad_messages_on_the_topic_are_dead_lettered_with_a_reason_at_first_delivery(
    stack: Stack,
) -> None:
    """The topic's schema refuses some at publish; on_signal dead-letters every other one
    with its reason at the first delivery, nothing trades, and it logs no traceback."""
    paper = {"exchange_id": "paper", "api_key": "paper", "secret": "paper"}
    for account in (OPEN, DISABLED):
        manager(stack, "POST", "/accounts", {"account": account, **paper})
    manager(stack, "PATCH", f"/accounts/{DISABLED}", {"enabled": False})
    log = stack.processes["on_signal"].log_path
    seen = log.stat().st_size
    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(stack.config.project, "signals")
    cases = [case for case in load() if case.on_topic]
    delivered, refused = {}, []
    for case in cases:
        trace = unique("hostile")
        try:
            publisher.publish(topic, case.message(), trace_id=trace).result(timeout=10)
        except InvalidArgument:  # the topic's Avro schema: never delivered
            refused.append(case.name)
        else:
            delivered[trace] = case

    letters = dead_letters_of(stack, "signals", set(delivered))

    missing = sorted(delivered[trace].name for trace in set(delivered) - set(letters))
    assert not missing, f"not dead-lettered: {missing}"
    for trace, letter in letters.items():
        attributes = letter.attributes
        assert attributes["function"] == "on_signal", delivered[trace].name
        assert attributes["reason"], delivered[trace].name
        assert attributes["detail"], delivered[trace].name
        # Dead-lettered by the function itself, not by Pub/Sub after retries.
        assert "CloudPubSubDeadLetterSourceDeliveryCount" not in attributes, delivered[trace].name
    assert len(delivered) >= 60  # most get past the schema to on_signal
    assert FirestoreStateStore(stack.config.project, SystemClock()).orders(OPEN) == []
    with log.open("rb") as lines:
        lines.seek(seen)
        assert b"Traceback" not in lines.read()


def test_a_flood_of_one_signed_request_trades_once(stack: Stack) -> None:
    account = opened(stack, "acct-flood")
    body = json.dumps(
        {"signal_id": unique("flood"), "account": account, "strategy": "strat-a",
         "symbol": BTC, "action": "buy", "quantity": "0.001", "confidence": 0.95}
    ).encode()  # fmt: skip
    stamp = str(int(time.time()))
    headers = {
        ingest.SOURCE_HEADER: "flood",
        ingest.TIMESTAMP_HEADER: stamp,
        ingest.SIGNATURE_HEADER: ingest.sign(WEBHOOK_SECRETS["flood"], stamp, body),
    }

    def post(_: int) -> tuple[int, str | None]:
        request = urllib.request.Request(
            stack.endpoints.functions["ingest_signal"], data=body, method="POST", headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return int(reply.status), None
        except urllib.error.HTTPError as refused:
            return refused.code, refused.headers["Retry-After"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(post, range(300)))
    answers = Counter(status for status, _ in replies)
    assert all(retry for status, retry in replies if status == 429)  # each says when

    assert answers[202] == 1
    assert set(answers) <= {202, 409, 429}
    assert answers[429] >= 300 - Settings().webhook_rate_limit * 2  # two windows at most
    eventually(lambda: fills(stack, account), lambda found: len(found) == 1)
    time.sleep(1)  # a second order would have been placed by now
    assert len(FirestoreStateStore(stack.config.project, SystemClock()).orders(account)) == 1
