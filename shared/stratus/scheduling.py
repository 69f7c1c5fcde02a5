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


class Scheduler:
    """Runs each schedule's job in a background thread at its cron times.

    Jobs are keyed by function name: in-process handlers for `stratus up`, HTTP calls to
    the function servers for the emulator stack.
    """

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

    def start(self) -> Scheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def fire_due(self, since: datetime, until: datetime) -> list[tuple[str, datetime, int]]:
        """Run every job whose cron fires in (since, until]; returns (job, time, status)
        for each run, status 0 when the job raised."""
        fired = []
        for name, schedule in sorted(self._schedules.items()):
            at = next_fire(schedule.cron, since)
            while at <= until:
                fired.append((name, at, self._fire(name, schedule, at)))
                at = next_fire(schedule.cron, at)
        return fired

    def _fire(self, name: str, schedule: Schedule, at: datetime) -> int:
        job = self._jobs.get(schedule.function)
        if job is None:
            return 0
        try:
            result = job(headers_for(name, at), b"")
        except Exception:  # one failing run must not end the schedule
            log.exception("scheduled job %s failed", name)
            return 0
        log.info("scheduled job %s answered %d", name, result.status)
        return result.status

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
