"""Durable writes and round trips, counted where they happen and charged to the function
(or webhook) that caused them: SQL engines through SQLAlchemy's events, Firestore through
its RPC stub. Instrumentation for the benches only; production code never imports it.

- SQL: a round trip is a statement or a COMMIT sent to the database; a durable write is a
  committed transaction that changed something (INSERT, UPDATE or DELETE).
- Firestore: a round trip is an RPC (get, query, begin, commit, ...); a durable write is
  a commit or a batch write.

The paper exchange keeps its venues in the same store (tables and collections named
paper_*); in production that is the exchange's HTTP API, not a write of ours, so its I/O
is counted apart, as "<backend>, paper exchange".
"""

from __future__ import annotations

import contextvars
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

from stratus.adapters.local_bus import LocalBus

_current: contextvars.ContextVar[str] = contextvars.ContextVar("io_function", default="other")
_WRITES = ("INSERT", "UPDATE", "DELETE")
_FIRESTORE_WRITES = ("commit", "batch_write")
_PAPER = "paper_"


class IoCounts:
    """Counts per (function, backend, kind), kind "writes" or "round trips"."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str]] = Counter()

    def snapshot(self) -> IoCounts:
        """The counts so far (what the instrumented engines do later is not in it)."""
        copy = IoCounts()
        copy.counts = Counter(self.counts)
        return copy

    def add(self, backend: str, kind: str, amount: int = 1) -> None:
        self.counts[(_current.get(), backend, kind)] += amount

    def per(self, divisor: int) -> list[tuple[str, str, float, float]]:
        """(function, backend, writes per, round trips per), by function then backend."""
        keys = sorted({(function, backend) for function, backend, _ in self.counts})
        return [
            (
                function,
                backend,
                self.counts[(function, backend, "writes")] / divisor,
                self.counts[(function, backend, "round trips")] / divisor,
            )
            for function, backend in keys
        ]

    def total(self, kind: str, ours: bool = False) -> int:
        """All of `kind`; ours=True leaves the paper exchange's out."""
        return sum(
            n
            for (_, backend, k), n in self.counts.items()
            if k == kind and not (ours and backend.endswith("paper exchange"))
        )

    def sql(self, engine: Engine, backend: str) -> None:
        """Count `engine`'s statements, commits and writing transactions."""

        paper = f"{backend}, paper exchange"

        def statement(connection: Any, _cursor: Any, sql: str, *_: Any) -> None:
            where = paper if _PAPER in sql else backend
            self.add(where, "round trips")
            if sql.lstrip().upper().startswith(_WRITES):
                connection.info["io_wrote"] = where

        def commit(connection: Any) -> None:
            wrote = connection.info.pop("io_wrote", None)
            self.add(wrote or backend, "round trips")
            if wrote is not None:
                self.add(wrote, "writes")

        def rollback(connection: Any) -> None:
            connection.info.pop("io_wrote", None)

        event.listen(engine, "before_cursor_execute", statement)
        event.listen(engine, "commit", commit)
        event.listen(engine, "rollback", rollback)

    def firestore(self, client: Any, backend: str = "firestore") -> None:
        """Count every RPC `client` makes (its generated API object, wrapped)."""
        api = client._firestore_api
        counts = self

        class Counted:
            def __getattr__(self, name: str) -> Any:
                found = getattr(api, name)
                if not callable(found) or name.startswith("_"):
                    return found

                def call(*args: Any, **kwargs: Any) -> Any:
                    where = (
                        f"{backend}, paper exchange" if _PAPER in str((args, kwargs)) else backend
                    )
                    counts.add(where, "round trips")
                    if name in _FIRESTORE_WRITES:
                        counts.add(where, "writes")
                    return found(*args, **kwargs)

                return call

        client._firestore_api_internal = Counted()  # what its _firestore_api returns


@contextmanager
def charged(function: str) -> Iterator[None]:
    """Charge what happens inside the block to `function`."""
    token = _current.set(function)
    try:
        yield
    finally:
        _current.reset(token)


def charge_deliveries(bus: LocalBus) -> None:
    """Every delivery of the in-process bus charges its I/O to the function (or watcher,
    e.g. the manager's recorder) it is delivered to."""
    attempt = bus._attempt

    def charged_attempt(delivery: Any) -> None:
        with charged(delivery.function):
            attempt(delivery)

    bus._attempt = charged_attempt  # type: ignore[method-assign]
