"""What every served paper exchange API (Bybit v5, Binance futures) shares: the paper
venue behind each API key, the faults tests inject, and a per-second request limit."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

from stratus.adapters.paper.exchange import PaperExchange


@dataclass
class Account:
    secret: str
    venue: PaperExchange


@dataclass
class Faults:
    """Failures injected by tests, consumed one request at a time per path."""

    rate_limited: dict[str, int] = field(default_factory=dict)  # path -> next n refused
    slow_after_booking: dict[str, int] = field(default_factory=dict)  # path -> next n stall
    stall_seconds: float = 2.0
    released: threading.Event = field(default_factory=threading.Event)

    def take(self, table: dict[str, int], path: str) -> bool:
        left = table.get(path, 0)
        if left > 0:
            table[path] = left - 1
        return left > 0


class RequestWindow:
    """Each key's requests of the last second, to refuse those past a per-second limit."""

    def __init__(self) -> None:
        self._recent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, key: str, per_second: int) -> bool:
        now = time.monotonic()
        with self._lock:
            recent = self._recent.setdefault(key, deque())
            while recent and now - recent[0] > 1.0:
                recent.popleft()
            if len(recent) >= per_second:
                return False
            recent.append(now)
            return True
