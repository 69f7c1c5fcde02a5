"""The dependencies every handler gets, built once by the bootstrap."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel

from stratus.config import Settings
from stratus.contracts import codec
from stratus.observability import TRACE_ATTRIBUTE, current_trace_id
from stratus.ports import (
    AccountDirectory,
    Allocations,
    Clock,
    EventBus,
    Exchanges,
    Ledger,
    Quotas,
    Secrets,
    StateStore,
)
from stratus.service.notifications import Notifications


@dataclass
class Services:
    settings: Settings
    clock: Clock
    bus: EventBus
    state: StateStore
    ledger: Ledger
    quotas: Quotas
    accounts: AccountDirectory
    exchanges: Exchanges
    secrets: Secrets
    sleep: Callable[[float], None] = field(default=time.sleep)
    allocations: Allocations | None = None  # sizing by allocation needs it
    notifications: Notifications | None = None  # the notify function's way to people

    def publish(self, topic: str, message: BaseModel) -> None:
        """Encode (validating against the topic's schema) and publish with the trace id."""
        self.bus.publish(topic, codec.encode(topic, message), {TRACE_ATTRIBUTE: current_trace_id()})
