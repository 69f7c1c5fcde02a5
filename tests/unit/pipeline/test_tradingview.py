"""TradingView alert JSON mapped onto Signal records."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from stratus.adapters.tradingview import AlertMapping
from stratus.contracts import codec
from stratus.domain.errors import InvalidMessage
from stratus.domain.signals import Signal, SignalAction

NOW = datetime(2026, 1, 5, tzinfo=UTC)
MAPPING = AlertMapping(
    account="acct-1", strategy="tv-trend", symbols={"BTCUSDT.P": "BTC/USDT:USDT"}
)


def test_a_default_alert_becomes_a_signal() -> None:
    alert = {"id": "tv-42", "ticker": "BTCUSDT.P", "action": "long", "contracts": "0.25"}
    record = MAPPING.to_signal("tv", alert, json.dumps(alert).encode(), NOW)
    signal = codec.parse(Signal, record)
    assert (signal.signal_id, signal.symbol, signal.action) == (
        "tv-42", "BTC/USDT:USDT", SignalAction.BUY
    )  # fmt: skip
    assert (signal.account, signal.strategy, str(signal.quantity)) == ("acct-1", "tv-trend", "0.25")


def test_nested_paths_custom_actions_and_a_body_hash_id() -> None:
    mapping = MAPPING.model_copy(
        update={
            "fields": {"symbol": "ticker", "action": "strategy.order.action"},
            "actions": {"exit": "close"},
        }
    )
    alert = {"ticker": "BTCUSDT.P", "strategy": {"order": {"action": "exit"}}}
    body = json.dumps(alert).encode()
    first = mapping.to_signal("tv", alert, body, NOW)
    assert first["action"] == "close"
    assert first["signal_id"] == mapping.to_signal("tv", alert, body, NOW)["signal_id"]
    assert first["signal_id"].startswith("tv-")


def test_an_unmapped_action_is_refused_with_a_reason() -> None:
    with pytest.raises(InvalidMessage) as caught:
        MAPPING.to_signal("tv", {"ticker": "X", "action": "hodl"}, b"{}", NOW)
    assert caught.value.reason == "unknown_action"
