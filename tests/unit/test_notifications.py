"""Who hears what, and how a burst reads (stratus.domain.notifications)."""

from __future__ import annotations

import pytest

from stratus.domain.notifications import (
    MAX_LINES,
    Destination,
    Notice,
    Severity,
    compose,
    destinations,
)


def notice(kind: str = "fill", severity: Severity = Severity.INFO, account: str = "a") -> Notice:
    return Notice(kind=kind, severity=severity, account=account, key=f"{kind}-1", text=kind)


def test_filters_by_kind_account_and_least_severity() -> None:
    [every, fills, mine, loud] = destinations(
        '[{"url": "json://h/1"}, {"url": "json://h/2", "kinds": ["fill"]},'
        ' {"url": "json://h/3", "accounts": ["a"]}, {"url": "json://h/4", "severity": "warning"}]'
    )
    assert every.wants(notice())
    assert every.wants(notice("dead_letter", Severity.CRITICAL, ""))
    assert fills.wants(notice())
    assert not fills.wants(notice("rejection", Severity.WARNING))
    assert mine.wants(notice(account="a"))
    assert not mine.wants(notice(account="b"))
    assert mine.wants(notice("kill_switch", Severity.CRITICAL, account=""))  # concerns all
    assert not loud.wants(notice())
    assert loud.wants(notice("rejection", Severity.WARNING))


def test_a_bad_destinations_secret_says_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="JSON list"):
        destinations('{"url": "json://h"}')
    with pytest.raises(ValueError, match="unknown kinds"):
        destinations('[{"url": "json://h", "kinds": ["fills"]}]')
    with pytest.raises(ValueError, match="notify-destinations"):
        destinations('[{"url": "json://h", "colour": "red"}]')


def test_a_destination_is_named_without_its_secret() -> None:
    [destination] = destinations('[{"url": "tgram://123:SECRET/456"}]')
    assert "SECRET" not in destination.label
    assert "SECRET" not in repr(destination)
    assert Destination.model_validate({"url": "x://y", "name": "desk"}).label == "desk"


def test_a_burst_reads_as_counts_then_lines() -> None:
    assert compose([notice()]) == ("Stratus fill", "fill", Severity.INFO)
    burst = [notice("rejection", Severity.WARNING)] * 30 + [
        notice("kill_switch", Severity.CRITICAL)
    ]
    title, body, severity = compose(burst)
    assert title == "Stratus: 1 kill switch, 30 rejections"
    assert severity is Severity.CRITICAL
    lines = body.splitlines()
    assert len(lines) == MAX_LINES + 1
    assert lines[-1] == f"... and {31 - MAX_LINES} more"
