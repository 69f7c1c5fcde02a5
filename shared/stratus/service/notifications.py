"""Telling people: each notice goes to the destinations that want it, a burst gathered
into one message per destination.

The first notice for a destination opens a batch and waits `window` seconds for more (the
notify function serves many deliveries at once, topology `concurrency`); then one
message goes out, and every delivery in the batch returns, or raises if the destination
failed, so Pub/Sub retries it and finally dead-letters it. A destination gets at most one
message per window (throttled), and a notice it took is never sent to it again (the
idempotency ledger), so a retry only goes where it failed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from stratus.domain.errors import DestinationFailed
from stratus.domain.notifications import Destination, Notice, compose, destinations
from stratus.observability import log_fields
from stratus.ports import Messenger, Secrets, StateStore

log = logging.getLogger(__name__)

SECRET_NAME = "notify-destinations"
SECRET_TTL_SECONDS = 60.0  # destinations are read again this often (no redeploy to change)
SEND_GRACE_SECONDS = 30.0  # how long a batch's members wait beyond the window


@dataclass
class _Batch:
    notices: list[Notice] = field(default_factory=list)
    sent: threading.Event = field(default_factory=threading.Event)
    error: Exception | None = None


class Notifications:
    def __init__(
        self,
        secrets: Secrets,
        state: StateStore,
        messenger: Messenger,
        window_seconds: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._secrets = secrets
        self._state = state
        self._messenger = messenger
        self._window = window_seconds
        self._sleep = sleep
        self._open: dict[str, _Batch] = {}
        self._lock = threading.Lock()
        self._read_at = -SECRET_TTL_SECONDS
        self._destinations: list[Destination] = []

    def destinations(self) -> list[Destination]:
        """From the secret, read at most once a minute; none when it is not set."""
        now = time.monotonic()
        with self._lock:
            if now - self._read_at >= SECRET_TTL_SECONDS:
                try:
                    self._destinations = destinations(self._secrets.get(SECRET_NAME))
                except KeyError:
                    self._destinations = []
                self._read_at = now
            return self._destinations

    def tell(self, notice: Notice) -> None:
        """Send `notice` to every destination that wants it and has not had it; raises
        DestinationFailed when one of them failed (the others keep what they took)."""
        failed = []
        for destination in self.destinations():
            done = f"notify:{destination.key}:{notice.key}"
            if not destination.wants(notice) or self._state.is_done(done):
                continue
            try:
                self._batched(destination, notice)
            except DestinationFailed:
                failed.append(destination.label)
                continue
            self._state.mark_done(done)
        if failed:
            raise DestinationFailed(f"not delivered to {', '.join(failed)}")

    def _batched(self, destination: Destination, notice: Notice) -> None:
        with self._lock:
            batch = self._open.get(destination.key)
            leading = batch is None
            if batch is None:
                batch = self._open[destination.key] = _Batch()
            if notice.key not in {held.key for held in batch.notices}:  # a copy rides along
                batch.notices.append(notice)
        if leading:
            self._sleep(self._window)  # the burst gathers
            with self._lock:
                del self._open[destination.key]
            try:
                self._send(destination, batch.notices)
            except DestinationFailed as error:
                batch.error = error
            finally:
                batch.sent.set()
        elif not batch.sent.wait(self._window + SEND_GRACE_SECONDS):
            raise DestinationFailed(f"{destination.label}: its batch never went out")
        if batch.error is not None:
            raise batch.error

    def _send(self, destination: Destination, notices: list[Notice]) -> None:
        title, body, severity = compose(notices)
        fields = log_fields(destination=destination.label, notices=len(notices))
        try:
            self._messenger.send(destination.url.get_secret_value(), title, body, severity.label)
        except DestinationFailed:
            log.warning("notification not delivered", extra=fields)
            raise
        except Exception as error:  # a destination must never break the notify function
            log.warning("notification not delivered", extra=fields, exc_info=True)
            raise DestinationFailed(f"{destination.label}: {error}") from error
        log.info("notification sent", extra=fields)
