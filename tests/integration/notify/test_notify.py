"""notify: real Apprise requests to local HTTP servers standing in for the destinations
(Apprise's json:// webhook). A fill and a rejection are told once each, a burst of 50
rejections in one message, filters pick what each destination hears, and a failing
destination never stops trading: retried, then dead-lettered (issue 16)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from stratus.adapters.clock import ManualClock
from stratus.adapters.local_bus import LocalBus
from stratus.adapters.paper.feed import PriceFeed
from stratus.adapters.paper.venues import PaperVenues
from stratus.config import Settings
from stratus.contracts import codec
from stratus.domain.risk import TradingState, TradingStateChange
from stratus.domain.signals import Signal
from stratus.service.bootstrap import build
from stratus.service.services import Services
from tests.conftest import open_accounts
from tests.webhook import Webhook


@pytest.fixture
def hooks() -> Iterator[list[Webhook]]:
    made: list[Webhook] = []
    yield made
    for hook in made:
        hook.close()


Stack = Callable[..., Services]  # (destinations, window=0.3) -> the embedded stack


@pytest.fixture
def stack(
    tmp_path: Path, feed: PriceFeed, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> Stack:
    """The embedded stack telling these destinations, gathering bursts for `window` s."""

    def make(destinations: list[dict[str, Any]], window: float = 0.3) -> Services:
        monkeypatch.setenv("STRATUS_SECRET_NOTIFY_DESTINATIONS", json.dumps(destinations))
        settings = Settings(
            database_url=f"sqlite:///{tmp_path}/stratus.db", notify_batch_seconds=window
        )
        services = build(
            settings, clock=clock, exchanges=PaperVenues(clock, feed), sleep=lambda _s: None
        )
        open_accounts(services, "acct", "other")
        return services

    return make


def signal(services: Services, signal_id: str, **fields: Any) -> None:
    record = {
        "signal_id": signal_id, "source": "test", "account": "acct", "strategy": "st",
        "symbol": "BTC/USDT:USDT", "action": "buy", "quantity": "0.1",
        "created_at": services.clock.now(), **fields,
    }  # fmt: skip
    services.publish("signals", Signal.model_validate(record))


def drain(services: Services) -> None:
    assert isinstance(services.bus, LocalBus)
    services.bus.drain()


def test_a_fill_and_a_rejection_each_become_one_notification(
    stack: Stack, hooks: list[Webhook], clock: ManualClock
) -> None:
    hooks.append(hook := Webhook())
    services = stack([{"url": hook.url, "name": "desk"}])
    signal(services, "fills-1")
    drain(services)
    [fill] = hook.received
    assert fill["title"] == "Stratus fill"
    assert "acct/st: buy 0.1 BTC/USDT:USDT at" in fill["message"]
    assert fill["type"] == "info"

    services.state.set_trading_state("account:acct", TradingState.HALTED, "drawdown")
    signal(services, "refused")
    drain(services)
    assert len(hook.received) == 2
    rejection = hook.received[1]
    assert rejection["title"] == "Stratus rejection"
    assert "rejected, kill_switch_halted" in rejection["message"]
    assert rejection["type"] == "warning"


def test_a_burst_of_50_rejections_is_one_message(
    stack: Stack, hooks: list[Webhook], clock: ManualClock
) -> None:
    hooks.append(hook := Webhook())
    services = stack([{"url": hook.url}], window=3.0)
    services.state.set_trading_state("global", TradingState.HALTED, "incident")
    for number in range(50):
        signal(services, f"storm-{number}")
    drain(services)
    [message] = hook.received
    assert message["title"] == "Stratus: 50 rejections"
    lines = message["message"].splitlines()
    assert len(lines) == 21
    assert lines[-1] == "... and 30 more"
    assert all("kill_switch_halted" in line for line in lines[:-1])


def test_each_destination_hears_what_its_filters_let_through(
    stack: Stack, hooks: list[Webhook], clock: ManualClock
) -> None:
    hooks.extend(made := [Webhook(), Webhook(), Webhook()])
    fills, other_account, serious = made
    services = stack(
        [
            {"url": fills.url, "kinds": ["fill"]},
            {"url": other_account.url, "accounts": ["other"]},
            {"url": serious.url, "severity": "warning"},
        ],
    )
    signal(services, "fill-acct")
    drain(services)
    services.state.set_trading_state("account:acct", TradingState.HALTED, "drawdown")
    signal(services, "reject-acct")
    drain(services)
    change = TradingStateChange(
        scope="global", state=TradingState.HALTED, reason="incident", changed_at=clock.now()
    )
    services.publish("trading-state", change)
    drain(services)
    assert [m["title"] for m in fills.received] == ["Stratus fill"]
    # a global kill switch concerns every account
    assert [m["title"] for m in other_account.received] == ["Stratus kill switch"]
    assert [m["title"] for m in serious.received] == ["Stratus rejection", "Stratus kill switch"]
    assert serious.received[1]["type"] == "failure"
    assert serious.received[1]["message"] == "kill switch global: halted (incident)"


def test_a_failing_destination_never_stops_trading_and_is_dead_lettered(
    stack: Stack, hooks: list[Webhook], clock: ManualClock
) -> None:
    hooks.extend(made := [Webhook(status=500), Webhook()])
    down, up = made
    services = stack([{"url": down.url}, {"url": up.url}])
    signal(services, "fill-1")
    drain(services)
    [position] = services.ledger.positions()
    assert position.quantity > 0  # traded, whatever the destination says
    assert len(down.received) == 5  # every delivery attempt tried it
    assert len(up.received) == 1  # the working one was told once, not on every retry
    assert isinstance(services.bus, LocalBus)
    [dead] = services.bus.messages("executions-dead-letter")
    assert dead.attributes["function"] == "notify"
    assert dead.attributes["reason"] == "max_delivery_attempts"
    fill = codec.decode("executions", dead.data)
    assert fill == services.ledger.fills()[0]
    # that dead letter is told too (it is critical), but only where it can be
    told = [m["message"] for m in up.received]
    assert not any("dead letter" in text for text in told)  # notify's own are not re-told


def test_a_dead_letter_is_told_as_critical(
    stack: Stack, hooks: list[Webhook], clock: ManualClock
) -> None:
    hooks.append(hook := Webhook())
    services = stack([{"url": hook.url}])
    clock.advance(timedelta(seconds=1))
    services.bus.publish("signals", b'{"signal_id": "broken"}', {})
    drain(services)
    [told] = hook.received
    assert told["type"] == "failure"
    assert told["message"].startswith("dead letter on signals (on_signal): missing_field")
