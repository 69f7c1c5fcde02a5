"""A local Cloud Scheduler: plays the topology's schedules against the HTTP functions.

Each due job is a POST with the headers Cloud Scheduler sends (schedule time, job name),
so the snapshot function sees the same idempotency key it gets in production.
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from stratus.topology import Schedule

log = logging.getLogger(__name__)

Due = Callable[[str, datetime], bool]  # (cron, minute) -> fire at this minute?


class LocalScheduler:
    def __init__(
        self, schedules: Mapping[str, Schedule], urls: Mapping[str, str], due: Due | None = None
    ) -> None:
        self.schedules = dict(schedules)
        self.urls = dict(urls)  # function -> base URL
        self._due = due or cron_matches
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="local-scheduler", daemon=True)

    def start(self) -> LocalScheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def fire_due(self, minute: datetime) -> list[str]:
        """Run every job due at `minute`; returns the names of the jobs run."""
        fired = []
        for name, schedule in self.schedules.items():
            if self._due(schedule.cron, minute):
                self.fire(name, minute)
                fired.append(name)
        return fired

    def fire(self, name: str, at: datetime) -> int:
        schedule = self.schedules[name]
        request = urllib.request.Request(
            self.urls[schedule.function],
            data=b"",
            method="POST",
            headers={
                "X-CloudScheduler": "true",
                "X-CloudScheduler-JobName": name,
                "X-CloudScheduler-ScheduleTime": at.isoformat(),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                status: int = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError as error:
            log.warning("scheduled job %s could not reach %s: %s", name, schedule.function, error)
            return 0
        log.info("scheduled job %s -> %s answered %d", name, schedule.function, status)
        return status

    def _run(self) -> None:
        minute = _floor(datetime.now(UTC)) + timedelta(minutes=1)
        while not self._stop.wait(max(0.0, (minute - datetime.now(UTC)).total_seconds())):
            self.fire_due(minute)
            minute += timedelta(minutes=1)


def _floor(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def cron_matches(cron: str, minute: datetime) -> bool:
    """Whether a five-field cron expression (minute hour day month weekday; *, */n, a-b,
    a-b/n and lists) fires at `minute` (UTC)."""
    fields = cron.split()
    if len(fields) != 5:
        raise ValueError(f"cron {cron!r} needs five fields")
    weekday = (minute.weekday() + 1) % 7  # cron counts from Sunday = 0
    values = (minute.minute, minute.hour, minute.day, minute.month, weekday)
    bounds = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
    return all(
        _field_matches(text, value, low, high)
        for text, value, (low, high) in zip(fields, values, bounds, strict=True)
    )


def _field_matches(text: str, value: int, low: int, high: int) -> bool:
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            start, end = low, high
        elif "-" in base:
            start, end = (int(x) for x in base.split("-", 1))
        else:
            start = int(base)
            end = high if step_text else start
        if start <= value <= end and (value - start) % step == 0:
            return True
    return False
