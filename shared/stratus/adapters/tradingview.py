"""TradingView-style alert payloads mapped onto Signal fields, per webhook source.

A TradingView alert's body is whatever JSON the user typed into the alert, with
placeholders such as {{ticker}} or {{strategy.order.action}} filled in. A mapping says
where each Signal field sits in that JSON (dotted paths), how tickers become ccxt symbols
and how actions ("long", "exit", ...) become buy/sell/close. Configured per source in
STRATUS_TRADINGVIEW, e.g.
{"tv": {"account": "acct-1", "strategy": "tv-trend", "symbols": {"BTCUSDT.P": "BTC/USDT:USDT"}}}
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from stratus.domain.errors import InvalidMessage

DEFAULT_FIELDS = {
    "signal_id": "id",
    "symbol": "ticker",
    "action": "action",
    "quantity": "contracts",
    "limit_price": "limit_price",
    "stop_price": "stop_price",
    "stop_loss_price": "stop_loss",
    "stop_loss_distance": "stop_loss_distance",
    "take_profit_price": "take_profit",
    "take_profit_distance": "take_profit_distance",
    "confidence": "confidence",
    "created_at": "time",
}
# Optional fields copied when the alert has them.
PASSED_THROUGH = (
    "quantity",
    "limit_price",
    "stop_price",
    "confidence",
    "stop_loss_price",
    "stop_loss_distance",
    "take_profit_price",
    "take_profit_distance",
)
DEFAULT_ACTIONS = {
    "buy": "buy",
    "long": "buy",
    "sell": "sell",
    "short": "sell",
    "close": "close",
    "exit": "close",
    "flat": "close",
}


class AlertMapping(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    account: str
    strategy: str
    fields: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_FIELDS))
    symbols: dict[str, str] = Field(default_factory=dict, description="ticker -> ccxt symbol")
    actions: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_ACTIONS))

    def to_signal(
        self, source: str, alert: dict[str, Any], body: bytes, now: datetime
    ) -> dict[str, Any]:
        """The Signal record for one alert; validation is left to the Signal model."""
        values = {name: _lookup(alert, path) for name, path in self.fields.items()}
        ticker = str(values.get("symbol") or "")
        action = str(values.get("action") or "").lower()
        if action not in self.actions:
            raise InvalidMessage("unknown_action", f"alert action {action!r} is not mapped")
        record: dict[str, Any] = {
            "source": source,
            "account": self.account,
            "strategy": self.strategy,
            "symbol": self.symbols.get(ticker, ticker),
            "action": self.actions[action],
            # TradingView has no ids of its own: the body's hash makes repeats deduplicate.
            "signal_id": values.get("signal_id") or "tv-" + hashlib.sha256(body).hexdigest()[:24],
            "created_at": values.get("created_at") or now.isoformat(),
        }
        for name in PASSED_THROUGH:
            if values.get(name) not in (None, ""):
                record[name] = values[name]
        return record


def _lookup(alert: dict[str, Any], path: str) -> Any:
    value: Any = alert
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value if not isinstance(value, dict | list) else json.dumps(value)
