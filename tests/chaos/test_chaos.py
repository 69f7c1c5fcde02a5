"""Whatever dies and whatever Pub/Sub redelivers, nothing is lost and nothing invented:
at least 200 signals over several accounts and strategies, each published 1-3 times
(some copies concurrently), function servers SIGKILLed at random moments, the executor
down for 15 s once, reconcile called mid-run; then every invariant of tests/invariants.py
must hold, on the in-process paper exchange and on the served paper Bybit through ccxt."""

from __future__ import annotations

import pytest

from tests.chaos.harness import ChaosRun
from tests.invariants import summary, violations

pytestmark = [pytest.mark.emulator, pytest.mark.chaos]


@pytest.mark.timeout(480)
def test_nothing_is_lost_or_invented_whatever_dies(chaos_run: ChaosRun) -> None:
    report = chaos_run.execute()

    observed = chaos_run.observe(report)
    found = violations(observed)
    assert not found, summary(observed, found)
