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
