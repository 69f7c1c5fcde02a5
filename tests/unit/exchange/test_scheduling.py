"""The embedded scheduler reads topology.yaml's cron data like Cloud Scheduler does."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from stratus.scheduling import Scheduler, next_fire
from stratus.service.http import HttpResult
from stratus.topology import topology

T0 = datetime(2026, 1, 1, 0, 2, 30, tzinfo=UTC)


def test_next_fire_follows_the_cron_expression() -> None:
    assert next_fire("*/15 * * * *", T0) == datetime(2026, 1, 1, 0, 15, tzinfo=UTC)
    assert next_fire("*/5 * * * *", datetime(2026, 1, 1, 0, 5, tzinfo=UTC)) == datetime(
        2026, 1, 1, 0, 10, tzinfo=UTC
    )


def test_due_jobs_get_cloud_schedulers_headers() -> None:
    calls: list[tuple[str, str]] = []

    def job(function: str) -> object:
        def run(headers: Mapping[str, str], body: bytes) -> HttpResult:
            calls.append((function, headers["X-CloudScheduler-ScheduleTime"]))
            return HttpResult(200, {})

        return run

    jobs = {name: job(name) for name in ("snapshot", "reconcile")}
    scheduler = Scheduler(topology().schedules, jobs)  # type: ignore[arg-type]
    scheduler.fire_due(T0, datetime(2026, 1, 1, 0, 16, tzinfo=UTC))
    assert sorted(calls) == [
        ("reconcile", "2026-01-01T00:05:00+00:00"),
        ("reconcile", "2026-01-01T00:10:00+00:00"),
        ("reconcile", "2026-01-01T00:15:00+00:00"),
        ("snapshot", "2026-01-01T00:15:00+00:00"),
    ]
