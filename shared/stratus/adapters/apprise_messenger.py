"""Notifications through Apprise: one library for Telegram, Slack, Discord, e-mail, SMS
gateways, plain webhooks (json://) and ~100 more, each chosen by its URL.

Apprise is imported on the first message only: the notify function's cold start and
every other process never pay for it.
"""

from __future__ import annotations

from typing import Any

from stratus.domain.errors import DestinationFailed, PermanentError

# Severity label -> Apprise's notify type (it picks colours and icons by it).
_TYPES = {"info": "info", "warning": "warning", "critical": "failure"}


class AppriseMessenger:
    def __init__(self, timeout_seconds: float = 10.0) -> None:
        self._timeout = timeout_seconds

    def send(self, url: str, title: str, body: str, severity: str) -> None:
        import apprise

        sender: Any = apprise.Apprise()
        if not sender.add(url):
            raise PermanentError("bad_destination", "Apprise does not understand a destination URL")
        if not sender.notify(
            body=body, title=title, notify_type=_TYPES[severity], timeout=self._timeout
        ):
            # Apprise logs the service's own answer (without the URL's secrets).
            raise DestinationFailed("the destination did not take the message")
