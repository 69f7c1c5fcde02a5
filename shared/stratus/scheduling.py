"""Cron schedules from topology.yaml, evaluated in-process for `stratus up`.

The same `schedules` data terraform gives Cloud Scheduler; croniter reads the cron
expressions (UTC, as the jobs are configured). Each due job calls its handler with the
headers Cloud Scheduler would send, so snapshot sees the same idempotency key.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from croniter import croniter

from stratus.service.http import HttpResult
from stratus.topology import Schedule

log = logging.getLogger(__name__)

Job = Callable[[Mapping[str, str], bytes], HttpResult]


def next_fire(cron: str, after: datetime) -> datetime:
    """The first time strictly after `after` at which `cron` fires (UTC)."""
    fire: datetime = croniter(cron, after.astimezone(UTC)).get_next(datetime)
    return fire


def headers_for(name: str, at: datetime) -> dict[str, str]:
    return {
        "X-CloudScheduler": "true",
        "X-CloudScheduler-JobName": name,
        "X-CloudScheduler-ScheduleTime": at.astimezone(UTC).isoformat(),
    }


class EmbeddedScheduler:
    """Runs each schedule's job in a background thread at its cron times."""

    def __init__(
        self,
        schedules: Mapping[str, Schedule],
        jobs: Mapping[str, Job],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._schedules = dict(schedules)
        self._jobs = dict(jobs)  # function name -> handler
        self._now = now
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)

    def start(self) -> EmbeddedScheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def fire_due(self, since: datetime, until: datetime) -> list[tuple[str, datetime]]:
        """Run every job whose cron fires in (since, until]; returns (job, time) run."""
        fired = []
        for name, schedule in sorted(self._schedules.items()):
            at = next_fire(schedule.cron, since)
            while at <= until:
                self._fire(name, schedule, at)
                fired.append((name, at))
                at = next_fire(schedule.cron, at)
        return fired

    def _fire(self, name: str, schedule: Schedule, at: datetime) -> None:
        job = self._jobs.get(schedule.function)
        if job is None:
            return
        try:
            result = job(headers_for(name, at), b"")
            log.info("scheduled job %s answered %d", name, result.status)
        except Exception:  # one failing run must not end the schedule
            log.exception("scheduled job %s failed", name)

    def _run(self) -> None:
        if not self._schedules:
            return
        since = self._now()
        while True:
            upcoming = min(next_fire(s.cron, since) for s in self._schedules.values())
            if self._stop.wait(max(0.0, (upcoming - self._now()).total_seconds())):
                return
            until = self._now()
            self.fire_due(since, until)
            since = until
