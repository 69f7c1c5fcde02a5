"""Explicit fault points: kill a function instance right after its k-th durable step.

A durable step is anything another process can see afterwards: a write to the state
store, the ledger or the quotas, a publish, an order created or canceled on the exchange.
The ports of a Services are wrapped so that each such call is counted while a traced
function runs; `trace` lists one clean run's steps, `arm` kills the next run after step k
(k = 0: before its first), so a test can walk every gap between two steps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from stratus.ports import EventBus, Exchanges, Ledger, Quotas, StateStore
from stratus.service.services import Services
from tests.integration.pipeline.chaos import Crash

T = TypeVar("T")

DURABLE = {
    "state": {"create_order", "save_order", "mark_done", "claim"},
    "ledger": {"apply_fill", "record_order", "record_snapshot"},
    "quotas": {"reserve", "release"},
    "venue": {"place", "cancel"},
}


@dataclass
class _Plan:
    function: str
    after: int
    redelivered: bool


class FaultPoints:
    def __init__(self) -> None:
        self.fired: list[str] = []  # where each armed crash happened
        self._plan: _Plan | None = None
        self._tracing: tuple[str, list[str]] | None = None
        self._lock = threading.Lock()
        self._local = threading.local()

    def install(self, services: Services) -> None:
        """Count the durable calls of these services from now on."""
        services.state = cast(StateStore, _Counted(services.state, "state", self))
        services.ledger = cast(Ledger, _Counted(services.ledger, "ledger", self))
        services.quotas = cast(Quotas, _Counted(services.quotas, "quotas", self))
        services.bus = cast(EventBus, _Counted(services.bus, "bus", self))
        services.exchanges = cast(Exchanges, _CountedExchanges(services.exchanges, self))

    @contextmanager
    def trace(self, function: str) -> Iterator[list[str]]:
        """The durable steps of the runs of `function` inside the block."""
        steps: list[str] = []
        self._tracing = (function, steps)
        try:
            yield steps
        finally:
            self._tracing = None

    def arm(self, function: str, after: int, redelivered: bool = True) -> None:
        """Kill the next run of `function` right after its `after`-th durable step."""
        self._plan = _Plan(function, after, redelivered)

    @property
    def armed(self) -> bool:
        return self._plan is not None

    def run(self, function: str, call: Callable[..., T], *args: Any) -> T:
        """Run `call` as one instance of `function` (what the bus or a scheduler calls)."""
        with self._lock:
            plan, self._plan = (self._plan, None) if self._in(function) else (None, self._plan)
        self._local.run = (function, plan, [0])
        try:
            self._check(plan, 0, "start")
            return call(*args)
        finally:
            self._local.run = None

    def _in(self, function: str) -> bool:
        return self._plan is not None and self._plan.function == function

    def step(self, name: str) -> None:
        run = getattr(self._local, "run", None)
        if run is None:
            return
        function, plan, count = run
        count[0] += 1
        if self._tracing is not None and self._tracing[0] == function:
            self._tracing[1].append(name)
        self._check(plan, count[0], name)

    def _check(self, plan: _Plan | None, count: int, name: str) -> None:
        if plan is None or count != plan.after:
            return
        where = f"{plan.function} after step {count} ({name})"
        self.fired.append(where)
        raise Crash(f"killed: {where}", plan.redelivered)


class _Counted:
    """A port whose durable calls are counted (and may be the last thing that happens)."""

    def __init__(self, inner: Any, kind: str, faults: FaultPoints) -> None:
        self._inner, self._kind, self._faults = inner, kind, faults

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if self._kind != "bus" and name not in DURABLE[self._kind]:
            return attribute
        if self._kind == "bus" and name != "publish":
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            label = f"{self._kind}.{name}"
            self._faults.step(f"{label}:{args[0]}" if self._kind == "bus" else label)
            return result

        return counted


class _CountedExchanges:
    def __init__(self, inner: Exchanges, faults: FaultPoints) -> None:
        self._inner, self._faults = inner, faults

    def for_account(self, account: str) -> Any:
        return _Counted(self._inner.for_account(account), "venue", self._faults)

    def accounts(self) -> Any:
        return self._inner.accounts()
