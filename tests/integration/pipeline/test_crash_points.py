"""A crash between any two durable steps of execute_order, update_position and
reconcile, each exercised: Pub/Sub's redelivery, another run or the sweep finishes the
job, and every promise of invariants.py holds afterwards."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest

from stratus.adapters.clock import ManualClock
from stratus.adapters.paper.feed import PriceFeed
from stratus.config import Settings
from stratus.domain.orders import OrderRequest
from stratus.domain.reconciliation import ReconciliationReport
from stratus.service.bootstrap import build
from stratus.service.dispatch import deliver
from stratus.service.reconciliation import reconcile_account
from stratus.service.sweep import sweep
from stratus.topology import topology
from tests.conftest import open_accounts
from tests.integration.pipeline.chaos import ChaosBus, Crash, FaultyVenues, Stack
from tests.integration.pipeline.faults import FaultPoints
from tests.integration.pipeline.invariants import violations, world_of

MARKET_ORDER_STEPS = [
    "state.save_order",  # attempts + 1 and the send lease
    "venue.place",
    "state.save_order",  # the exchange's view: FILLED, one fill
    "ledger.record_order",  # with the quota given back: one write
    "bus.publish:executions",
    "state.save_order",  # settled: nothing owed
]
# Past the delivery window and any send lease: what the sweep waits for.
LATER = topology().retry.delivery_window + timedelta(minutes=1)


@pytest.fixture
def crashy(tmp_path: Path, feed: PriceFeed, clock: ManualClock) -> tuple[Stack, FaultPoints]:
    """One copy per delivery, in order: every crash is then exactly where it was put."""
    bus = ChaosBus(clock, copies=(1,), concurrent_rate=0)
    venues = FaultyVenues(clock, feed)
    services = build(
        Settings(database_url=f"sqlite:///{tmp_path}/stratus.db"),
        clock=clock, bus=bus, exchanges=venues, sleep=lambda _s: None,
    )  # fmt: skip
    open_accounts(services, "acct")
    faults = FaultPoints()
    faults.install(services)
    bus.attach(
        lambda function, *args, **named: faults.run(
            function, partial(deliver, **named), services, function, *args
        )
    )
    return Stack(services, bus, venues, clock), faults


def check(stack: Stack) -> None:
    """Run the sweep and reconcile as the scheduler would, then every invariant."""
    services = stack.services
    stack.clock.advance(LATER)
    sweep(services)
    stack.bus.drain()
    accounts = sorted({r.request.account for r in services.state.orders()})
    reports: list[ReconciliationReport] = [reconcile_account(services, a) for a in accounts]
    stack.bus.drain()
    placed = Counter(coid for venue in stack.venues.venues.values() for coid in venue.placed)
    assert violations(world_of(services, stack.bus.messages, placed, reports)) == []
    assert services.state.orders(owed=True) == []


def steps_of(stack: Stack, faults: FaultPoints, function: str) -> list[str]:
    """The durable steps `function` takes for one market order that goes well."""
    with faults.trace(function) as steps:
        stack.signal("clean", quantity="0.1")
    return steps


def signal_killed(
    stack: Stack, faults: FaultPoints, function: str, after: int, redelivered: bool
) -> None:
    """A market order whose `function` instance dies after step `after` (0: before any)."""
    faults.arm(function, after, redelivered)
    stack.signal(f"crash-{after}", action="sell" if after % 2 else "buy", quantity="0.1")


@pytest.mark.parametrize("redelivered", [True, False], ids=["redelivered", "acked"])
def test_execute_order_is_finished_after_a_crash_between_any_two_steps(
    crashy: tuple[Stack, FaultPoints], redelivered: bool
) -> None:
    stack, faults = crashy
    steps = steps_of(stack, faults, "execute_order")
    assert steps == MARKET_ORDER_STEPS
    for after in range(len(steps) + 1):
        signal_killed(stack, faults, "execute_order", after, redelivered)
        if not redelivered:  # the message is gone: the sweep finishes
            stack.clock.advance(LATER)
            sweep(stack.services)
            stack.bus.drain()
        assert stack.services.state.orders(owed=True) == [], f"left owed after step {after}"
        assert stack.services.state.orders(live=True) == [], f"left working after step {after}"
    assert len(faults.fired) == len(steps) + 1
    check(stack)


@pytest.mark.parametrize("redelivered", [True, False], ids=["redelivered", "acked"])
def test_update_position_is_finished_after_a_crash_between_any_two_steps(
    crashy: tuple[Stack, FaultPoints], redelivered: bool
) -> None:
    stack, faults = crashy
    steps = steps_of(stack, faults, "update_position")
    # controls: the position's protect (its exits follow it; the sweep protects too)
    assert steps == ["ledger.apply_fill", "bus.publish:position-updates", "bus.publish:controls"]
    for after in range(len(steps) + 1):
        signal_killed(stack, faults, "update_position", after, redelivered)
        applied = {f.fill_id for f in stack.services.ledger.fills()}
        missing = [
            f for r in stack.services.state.orders() for f in r.fills if f.fill_id not in applied
        ]
        assert len(missing) == (0 if redelivered else 1)  # died before applying, step 0
    assert len(faults.fired) == len(steps) + 1
    check(stack)  # a fill whose message died unapplied is published again by reconcile


def test_reconcile_is_finished_by_the_next_run_after_a_crash_between_any_two_steps(
    crashy: tuple[Stack, FaultPoints],
) -> None:
    """Each account has work for reconcile: an order document that owes its fill (its
    executor died after saving it, its message acked), and a trade made outside Stratus."""
    stack, faults = crashy

    def loose_account(account: str) -> None:
        open_accounts(stack.services, account)
        faults.arm("execute_order", 3, redelivered=False)
        stack.signal(f"{account}-owed", account=account, quantity="0.1")
        outside = OrderRequest.model_validate(
            {"request_id": f"{account}-manual-0", "signal_id": f"{account}-manual", "leg": 0,
             "account": account, "strategy": "by-hand", "symbol": "ETH/USDT:USDT",
             "side": "sell", "order_type": "market", "quantity": "0.5",
             "created_at": stack.clock.now()}
        )  # fmt: skip
        stack.venues.for_account(account).inner.place(outside)

    loose_account("acct-clean")
    with faults.trace("reconcile") as steps:
        faults.run("reconcile", reconcile_account, stack.services, "acct-clean")
    assert steps == [
        "ledger.record_order",  # the owed document is finished: ledger and quota, fill
        "bus.publish:executions",
        "state.save_order",
        "bus.publish:executions",  # its fill is not applied yet: in flight, published again
        "bus.publish:executions",  # the correction of the trade made outside
        "bus.publish:balances",
        "bus.publish:reconciliation-reports",
    ]
    for after in range(len(steps) + 1):
        account = f"acct-{after}"
        loose_account(account)
        faults.arm("reconcile", after, redelivered=False)
        with pytest.raises(Crash):
            faults.run("reconcile", reconcile_account, stack.services, account)
        reconcile_account(stack.services, account)  # the scheduler's next run
        stack.bus.drain()
    assert len(faults.fired) == len(steps) + 1 + len(steps) + 2  # + the executor crashes
    check(stack)
