"""The chaos tier: the pipeline on the emulator stack while its servers are killed.

Each test starts its own stack (own emulators, a fresh PostgreSQL database): servers
are SIGKILLed there, and reconcile must see only its own accounts. Needs what the
emulator tier needs (skipped locally with how to get it, a failure in CI).
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from stratus.adapters.clock import SystemClock
from stratus.adapters.paper.bybit_http import ServedBybit, paper_bybit
from stratus.config import Settings
from stratus.local.stack import Stack, StackConfig
from stratus.service.bootstrap import build
from stratus.topology import topology
from tests.chaos.harness import ChaosRun
from tests.chaos.plan import Plan, plan
from tests.conftest import fresh_database, open_accounts
from tests.emulator.helpers import require_gcloud

# Attempts 5, 10, 20 and 40 s apart (75 s in all): a message outlasts the executor's
# 15 s outage and a kill on top of it, and the 60 s an executor killed while sending
# leaves its order leased, as production's 10-600 s policy does.
RETRY = topology().retry.model_copy(
    update={"minimum_backoff_seconds": 5, "maximum_backoff_seconds": 40}
)


@pytest.fixture
def chaos_plan() -> Plan:
    """STRATUS_CHAOS_SEED replays a run; STRATUS_CHAOS_SIGNALS makes a longer one."""
    seed = int(os.environ.get("STRATUS_CHAOS_SEED") or random.randrange(1_000_000))
    chosen = plan(seed, signals=int(os.environ.get("STRATUS_CHAOS_SIGNALS", "200")))
    print(chosen.describe())  # shown with the failure, to replay it
    return chosen


@pytest.fixture(params=["paper", "ccxt"])
def chaos_run(
    request: pytest.FixtureRequest, chaos_plan: Plan, tmp_path: Path
) -> Iterator[ChaosRun]:
    """A stack of its own on the stack's paper venue, or on the served paper Bybit v5
    API through real ccxt (one API key per account)."""
    require_gcloud()
    with ExitStack() as resources:
        env, keys = {}, {account: f"key-{account}" for account in chaos_plan.accounts}
        if request.param == "ccxt":
            credentials = dict.fromkeys(keys.values(), "paper-secret")
            served = resources.enter_context(ServedBybit(paper_bybit(credentials, SystemClock())))
            env = {"STRATUS_EXCHANGE": "ccxt", "STRATUS_EXCHANGE_API_URL": served.url}
        config = StackConfig(
            # A project per stack: Firestore clients are cached per project and process.
            project=f"stratus-chaos-{request.param}",
            database_url=resources.enter_context(fresh_database("stratus_chaos")),
            logs=tmp_path / "logs",
            retry=RETRY,
            manager=False,  # the functions write SQL themselves; the checks read it
            scheduler=False,  # the run calls the sweep and reconcile when it means to
            env=env,
        )
        stack = resources.enter_context(Stack(config))
        services = build(stack_settings(stack))  # as the CLI beside the stack would
        exchange_id = "bybit" if request.param == "ccxt" else "paper"
        open_accounts(services, *chaos_plan.accounts, exchange_id=exchange_id, keys=keys)
        yield ChaosRun(stack, chaos_plan, services.exchanges)


def stack_settings(stack: Stack) -> Settings:
    """The Settings the stack's functions run with (their STRATUS_* environment)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in stack.env().items():
            if name.startswith("STRATUS_"):
                patch.setenv(name, value)
        return Settings()
