"""Cloud Scheduler for the local stack: the shared cron scheduler, with jobs that POST to
the HTTP functions the way Cloud Scheduler does (headers from stratus.scheduling)."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from stratus.scheduling import Job, Scheduler
from stratus.service.http import HttpResult
from stratus.topology import Schedule


def http_job(url: str) -> Job:
    def post(headers: Mapping[str, str], body: bytes) -> HttpResult:
        request = urllib.request.Request(url, data=body, method="POST", headers=dict(headers))
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return HttpResult(response.status, {})
        except urllib.error.HTTPError as error:
            return HttpResult(error.code, {})

    return post


def http_scheduler(
    schedules: Mapping[str, Schedule], urls: Mapping[str, str], **kw: Any
) -> Scheduler:
    """A scheduler whose jobs call the function servers at `urls` (function -> URL)."""
    return Scheduler(schedules, {function: http_job(url) for function, url in urls.items()}, **kw)
