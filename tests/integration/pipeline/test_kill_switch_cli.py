"""`stratus kill-switch` writes the scope the pipeline then obeys."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratus.adapters.clock import SystemClock
from stratus.adapters.sql.db import Database
from stratus.adapters.sql.state import SqlStateStore
from stratus.cli import main
from stratus.domain.risk import TradingState


def test_set_and_show_scopes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    monkeypatch.setenv("STRATUS_DATABASE_URL", url)
    assert main(["kill-switch", "reducing", "--strategy", "st", "--reason", "drawdown"]) == 0
    assert main(["kill-switch"]) == 0
    assert capsys.readouterr().out.splitlines() == ["strategy:st: reducing", "global: active"]
    store = SqlStateStore(Database.from_url(url), SystemClock())
    assert store.trading_state(["global", "strategy:st"]) == {"strategy:st": TradingState.REDUCING}


def test_a_change_is_published_for_notify(tmp_path: Path) -> None:
    from argparse import Namespace
    from datetime import UTC, datetime

    from stratus.adapters.local_bus import LocalBus
    from stratus.cli import kill_switch
    from stratus.contracts import codec
    from stratus.domain.risk import TradingStateChange
    from stratus.topology import topology

    store = SqlStateStore(Database.from_url(f"sqlite:///{tmp_path}/state.db"), SystemClock())
    bus = LocalBus(topology(), SystemClock())
    args = Namespace(state="halted", account="main", strategy=None, reason="exchange incident")
    assert kill_switch.run(args, store, bus) == 0
    [published] = bus.messages("trading-state")
    change = codec.decode("trading-state", published.data)
    assert isinstance(change, TradingStateChange)
    assert (change.scope, change.state, change.reason) == (
        "account:main",
        TradingState.HALTED,
        "exchange incident",
    )
    assert abs((datetime.now(UTC) - change.changed_at).total_seconds()) < 60
    shown = Namespace(state=None, account="main", strategy=None, reason="")
    assert kill_switch.run(shown, store, bus) == 0
    assert len(bus.messages("trading-state")) == 1  # showing changes nothing
