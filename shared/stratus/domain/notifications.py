"""What people are told, and who wants to hear what. Pure: no I/O, no clock.

A `Notice` is one thing worth telling (a fill, a rejection, a dead letter...); each
`Destination` (an Apprise URL from the `notify-destinations` secret) takes the notices
its filters let through, gathered into one message per burst (`compose`).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from enum import IntEnum

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

MAX_LINES = 20  # a burst's message lists this many notices, then counts the rest


class Severity(IntEnum):
    INFO = 1  # a fill, a clean change
    WARNING = 2  # a rejection, a risk warning, a reconciliation that corrected something
    CRITICAL = 3  # a dead letter, trading halted

    @property
    def label(self) -> str:
        return self.name.lower()


KINDS = ("fill", "rejection", "risk_warning", "reconciliation", "dead_letter", "kill_switch")


class Notice(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str
    severity: Severity
    account: str  # "" when it concerns no one account (a global kill switch)
    key: str  # names it across redeliveries: each destination gets it once
    text: str  # one line


class Destination(BaseModel):
    """One Apprise URL (tgram://, slack://, discord://, mailto://, json://...) and its
    filters: kinds and accounts (empty: all) and the least severity it wants."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: SecretStr  # holds tokens: never logged
    name: str = Field(default="", max_length=100)
    kinds: frozenset[str] = frozenset()
    accounts: frozenset[str] = frozenset()
    severity: Severity = Severity.INFO

    @field_validator("severity", mode="before")
    @classmethod
    def _by_name(cls, value: object) -> object:
        return Severity[value.upper()] if isinstance(value, str) else value

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, value: frozenset[str]) -> frozenset[str]:
        unknown = sorted(value - set(KINDS))
        if unknown:
            raise ValueError(f"unknown kinds {unknown}; known: {', '.join(KINDS)}")
        return value

    @property
    def key(self) -> str:
        """Names the destination in the idempotency ledger and the logs, not its secret."""
        return hashlib.sha256(self.url.get_secret_value().encode()).hexdigest()[:16]

    @property
    def label(self) -> str:
        return self.name or self.key

    def wants(self, notice: Notice) -> bool:
        return (
            notice.severity >= self.severity
            and (not self.kinds or notice.kind in self.kinds)
            and (not self.accounts or not notice.account or notice.account in self.accounts)
        )


def destinations(text: str) -> list[Destination]:
    """The `notify-destinations` secret: a JSON list of destinations; ValueError says
    what is wrong with it."""
    try:
        raw = json.loads(text)
        if not isinstance(raw, list):
            raise ValueError("notify-destinations must be a JSON list")
        return [Destination.model_validate(item) for item in raw]
    except ValidationError as error:
        raise ValueError(f"notify-destinations: {error}") from None


def compose(notices: Sequence[Notice]) -> tuple[str, str, Severity]:
    """Title, body and severity of one message telling `notices`."""
    severity = max(notice.severity for notice in notices)
    if len(notices) == 1:
        notice = notices[0]
        return f"Stratus {notice.kind.replace('_', ' ')}", notice.text, severity
    counts = Counter(notice.kind.replace("_", " ") for notice in notices)
    summary = ", ".join(f"{count} {_plural(kind, count)}" for kind, count in sorted(counts.items()))
    lines = [notice.text for notice in notices[:MAX_LINES]]
    if len(notices) > MAX_LINES:
        lines.append(f"... and {len(notices) - MAX_LINES} more")
    return f"Stratus: {summary}", "\n".join(lines), severity


def _plural(noun: str, count: int) -> str:
    if count == 1:
        return noun
    return noun + ("es" if noun.endswith(("h", "s")) else "s")
