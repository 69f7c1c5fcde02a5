"""Signal fates on SQLite and PostgreSQL: widths respected, races settled, repeats ignored."""

from __future__ import annotations

import threading
from datetime import timedelta

from stratus.adapters.sql.audit import Page
from stratus.adapters.sql.outcomes import DeadLetter, Fact, SignalFilter
from stratus.domain.outcomes import SignalStatus
from stratus.manager.recorder import Recorder
from stratus.manager.store import Store
from stratus.ports import Envelope
from stratus.service.services import Services
from tests.integration.manager.conftest import START


def test_what_a_refused_body_says_is_kept_within_the_columns(system: Services) -> None:
    outcomes = Store.of(system).outcomes
    fact = Fact(
        "long-1",
        SignalStatus.REFUSED,
        START,
        "x" * 100,
        "d" * 5000,
        symbol="S" * 128,
        action="a" * 128,
    )
    outcome = outcomes.learn(fact)
    assert outcome.symbol == "S" * 64
    assert outcome.action == "a" * 16
    assert outcome.reason == "x" * 64
    assert len(outcome.detail or "") == 2000


def test_racing_first_facts_of_one_signal_make_one_row_of_the_gravest(system: Services) -> None:
    outcomes = Store.of(system).outcomes
    facts = [
        Fact("race-1", SignalStatus.ACCEPTED, START, account="acct"),
        Fact("race-1", SignalStatus.REJECTED, START + timedelta(seconds=1), "daily_loss_limit"),
        Fact("race-1", SignalStatus.ACCEPTED, START, account="acct"),
    ]
    threads = [threading.Thread(target=outcomes.learn, args=(fact,)) for fact in facts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [fate], total = outcomes.signals(SignalFilter(), Page())
    assert total == 1
    assert fate.outcome.status is SignalStatus.REJECTED
    assert fate.outcome.reason == "daily_loss_limit"
    assert fate.outcome.account == "acct"
    assert fate.outcome.received_at == START


def test_a_dead_letter_is_kept_once_and_counted(system: Services) -> None:
    outcomes = Store.of(system).outcomes
    letter = DeadLetter(
        topic="orders",
        message_id="42",
        function="execute_order",
        reason="order_rejected",
        detail="insufficient margin",
        signal_id="s-1",
        data="{}",
        dead_lettered_at=START,
    )
    assert outcomes.dead_letter(letter)
    assert not outcomes.dead_letter(letter)
    [count] = outcomes.dead_letter_counts()
    assert (count.topic, count.count, count.last) == ("orders", 1, START)


def test_a_dead_letter_of_any_bytes_is_kept(system: Services) -> None:
    outcomes = Store.of(system).outcomes
    letter = DeadLetter(
        topic="executions",
        message_id="7",
        function="update_position",
        reason="poison\x00",
        detail="bad \x00 byte \ud800",
        signal_id=None,
        data=b"\x00\xff{".decode("utf-8", errors="replace"),
        dead_lettered_at=START,
    )
    assert outcomes.dead_letter(letter)
    [kept], _ = outcomes.dead_letters(Page())
    assert "\x00" not in kept.data + kept.detail + kept.reason
    assert kept.detail == "bad \ufffd byte ?"


def test_a_message_the_recorder_cannot_read_is_left_to_its_subscriber(system: Services) -> None:
    store = Store.of(system)
    recorder = Recorder(system, store.outcomes, store.portfolio, store.funds)
    recorder.record(Envelope("1", "signals", b'{"signal_id": "x"}', {}, START))  # no raise
    assert store.outcomes.signals(SignalFilter(), Page()) == ([], 0)
    odd = Envelope("2", "signals-dead-letter", b'{"signal_id": "\\ud800"}', {}, START)
    recorder.record(odd)  # a dead letter naming no readable signal: kept, charged to none
    [letter], _ = store.outcomes.dead_letters(Page())
    assert letter.signal_id is None
