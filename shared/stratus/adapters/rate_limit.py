"""Exchange request pacing: a budget per rolling second, the way exchanges count it.

ccxt's synchronous limiter waits rateLimit x cost after *every* request, however little
was spent before: on Bybit the fill lookup that follows a create (cost 5 x 20 ms) waits
100 ms on every order. Exchanges count requests per rolling window instead, so Stratus
spends the budget ccxt declares (1000 / rateLimit cost units a second, ccxt's own
steady-state rate) the way they count it: a request goes at once while the last second's
spending leaves room for it, and otherwise waits until enough of it has rolled off.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

# Requests reach the exchange a little after they leave: a spend rolls off only once the
# exchange's own window has surely forgotten it too.
ARRIVAL_ALLOWANCE_SECONDS = 0.05


class RollingWindow:
    """At most `budget` cost units in any rolling `window` seconds (thread-safe)."""

    def __init__(
        self,
        budget: float,
        window: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if budget <= 0 or window <= 0:
            raise ValueError("budget and window must be positive")
        self.budget = budget
        self.window = window + ARRIVAL_ALLOWANCE_SECONDS
        self._clock = clock
        self._sleep = sleep
        self._spent: deque[tuple[float, float]] = deque()  # (when, cost), oldest first
        self._lock = threading.Lock()

    @classmethod
    def for_ccxt(cls, rate_limit_ms: float) -> RollingWindow:
        """ccxt's budget: one cost unit per `rateLimit` milliseconds."""
        return cls(budget=1000 / rate_limit_ms)

    def throttle(self, cost: float | None = None) -> None:
        """Wait until `cost` fits the window, then spend it (ccxt's throttle signature)."""
        cost = 1.0 if cost is None else float(cost)
        spend = min(cost, self.budget)
        # A request dearer than the whole budget (Binance's symbol-less open orders) waits
        # for an empty window and holds it for as many windows as it costs, as ccxt would.
        held_beyond = self.window * (cost / self.budget - 1) if cost > self.budget else 0.0
        with self._lock:  # callers that must wait queue here, in turn
            now = self._clock()
            while self._spent and self._spent[0][0] + self.window <= now:
                self._spent.popleft()
            excess = sum(spent for _, spent in self._spent) + spend - self.budget
            if excess > 0:
                free_at = now
                while excess > 0:  # the oldest spends that must roll off first
                    when, spent = self._spent.popleft()
                    excess -= spent
                    free_at = when + self.window
                self._sleep(free_at - now)
                now = max(self._clock(), free_at)
            self._spent.append((now + held_beyond, spend))
