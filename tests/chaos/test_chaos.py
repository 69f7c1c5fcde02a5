"""Whatever dies and whatever Pub/Sub redelivers, nothing is lost and nothing invented:
at least 200 signals over several accounts and strategies, each published 1-3 times
(some copies concurrently), function servers SIGKILLed at random moments, the executor
down for 15 s once, the sweep and reconcile called mid-run; then every invariant of
tests/integration/pipeline/invariants.py must hold, on the stack's paper venue and on the
served paper Bybit through real ccxt."""

from __future__ import annotations

import pytest

from tests.chaos.harness import ChaosRun
from tests.integration.pipeline.invariants import violations

pytestmark = [pytest.mark.emulator, pytest.mark.chaos]


@pytest.mark.timeout(480)
def test_nothing_is_lost_or_invented_whatever_dies(chaos_run: ChaosRun) -> None:
    answer = chaos_run.execute()

    found = violations(chaos_run.world())
    shown = [*chaos_run.notes, f"{len(found)} violation(s):", *found[:40]]
    assert (answer.get("failed"), found) == ({}, []), "\n".join(shown)
