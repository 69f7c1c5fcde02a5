"""Cloud Run's promise for the local stack: a server that dies is started again.

Cloud Run replaces a crashed instance at once, and backs off when a container keeps
crashing at start-up. The supervisor does the same for the function servers and the
manager of `stratus up --emulators`: it polls them, and a process whose whole group died
(not just a gunicorn worker, which gunicorn replaces itself) is started again, with a log
line saying so. One that keeps dying within QUICK_DEATH_SECONDS of its start waits 1, 2,
4 ... MAX_PAUSE_SECONDS before each further start.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

from stratus.local.processes import Process

log = logging.getLogger(__name__)

QUICK_DEATH_SECONDS = 5.0
MAX_PAUSE_SECONDS = 30.0


class Supervisor:
    def __init__(self, processes: Mapping[str, Process], poll_seconds: float = 0.2) -> None:
        self._processes = dict(processes)
        self._poll = poll_seconds
        self.restarts = 0
        self._due: dict[str, float] = {}  # a dead process -> when it may start again
        self._quick_deaths: dict[str, int] = {}
        self._held_until: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)

    def start(self) -> Supervisor:
        self._thread.start()
        return self

    def stop(self) -> None:
        """No restart from here on (the stack is stopping its processes)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def keep_down(self, name: str, seconds: float) -> None:
        """Do not start `name` again for `seconds` (an outage longer than a restart)."""
        with self._lock:
            self._held_until[name] = time.monotonic() + seconds

    def _run(self) -> None:
        while not self._stopping.wait(self._poll):
            for name, process in self._processes.items():
                if not process.running():
                    self._revive(name, process)

    def _revive(self, name: str, process: Process) -> None:
        now = time.monotonic()
        if name not in self._due:
            self._due[name] = now + self._pause(name, process, now)
        with self._lock:
            due = max(self._due[name], self._held_until.get(name, 0.0))
        if now < due:
            return
        try:
            process.restart()
        except OSError:
            log.exception("could not start %s again; trying later", name)
            self._due[name] = now + MAX_PAUSE_SECONDS
            return
        del self._due[name]
        self.restarts += 1
        log.warning(
            "%s started again (pid %s), as Cloud Run starts a new instance", name, process.pid
        )

    def _pause(self, name: str, process: Process, now: float) -> float:
        """How long to wait before the next start, logged when the death is noticed."""
        quick = now - process.started_at < QUICK_DEATH_SECONDS
        deaths = self._quick_deaths.get(name, 0) + 1 if quick else 0
        self._quick_deaths[name] = deaths
        pause = 0.0 if deaths < 2 else min(MAX_PAUSE_SECONDS, 2.0 ** (deaths - 2))
        log.warning(
            "%s %s after %.0f s; starting a new instance%s",
            name,
            process.exit_status(),
            now - process.started_at,
            f" in {pause:.0f} s (it keeps dying at start-up)" if pause else "",
        )
        return pause
