"""The rolling per-second request budget that replaces ccxt's fixed spacing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stratus.adapters.rate_limit import ARRIVAL_ALLOWANCE_SECONDS, RollingWindow

WINDOW = 1.0 + ARRIVAL_ALLOWANCE_SECONDS


class FakeTime:
    """A clock that only moves when the limiter sleeps or the test lets time pass."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.slept.append(seconds)
        self.now += seconds


def window(budget: float, fake: FakeTime) -> RollingWindow:
    return RollingWindow(budget, clock=lambda: fake.now, sleep=fake.sleep)


def test_requests_within_the_budget_go_at_once() -> None:
    fake = FakeTime()
    limiter = window(50, fake)  # Bybit: rateLimit 20 ms
    limiter.throttle(2.5)  # order/create
    limiter.throttle(5)  # order/history, the fill lookup right after
    for _ in range(8):
        limiter.throttle(5)
    assert fake.slept == []  # 47.5 of 50 units spent, nobody waited


def test_a_request_past_the_budget_waits_for_the_oldest_spend_to_roll_off() -> None:
    fake = FakeTime()
    limiter = window(10, fake)
    limiter.throttle(4)
    fake.now += 0.3
    limiter.throttle(4)
    fake.now += 0.3
    limiter.throttle(4)  # 12 > 10: the first 4 must roll off, at 1000 + WINDOW
    assert fake.slept == [pytest.approx(WINDOW - 0.6)]
    fake.now += 0.1
    limiter.throttle(2)  # 4 + 4 + 2 = 10 fits
    assert len(fake.slept) == 1


def test_a_cost_above_the_whole_budget_waits_for_an_empty_window_and_holds_it() -> None:
    fake = FakeTime()
    limiter = window(10, fake)
    limiter.throttle(3)
    limiter.throttle(25)  # 2.5 budgets: goes once the window is empty...
    assert fake.slept == [pytest.approx(WINDOW)]
    limiter.throttle(1)  # ...and the next waits the 2.5 windows it costs
    assert fake.slept == [pytest.approx(WINDOW), pytest.approx(2.5 * WINDOW)]


def test_the_budget_is_ccxts_steady_rate() -> None:
    assert RollingWindow.for_ccxt(20).budget == 50  # Bybit
    assert RollingWindow.for_ccxt(50).budget == 20  # Binance


@pytest.mark.parametrize(("budget", "span"), [(0, 1.0), (10, 0.0)])
def test_a_budget_or_window_must_be_positive(budget: float, span: float) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        RollingWindow(budget, span)


@given(
    st.lists(
        st.tuples(
            st.sampled_from([0.0, 0.01, 0.05, 0.2, 0.7]),  # pause before the request
            st.sampled_from([1, 2.5, 5, 10, 60]),  # its cost
        ),
        max_size=60,
    )
)
def test_no_window_ever_holds_more_than_the_budget_and_nobody_waits_needlessly(
    requests: list[tuple[float, float]],
) -> None:
    budget = 50.0
    fake = FakeTime()
    limiter = window(budget, fake)
    sent: list[tuple[float, float]] = []
    for pause, cost in requests:
        fake.now += pause
        asked_at, sleeps = fake.now, len(fake.slept)
        limiter.throttle(cost)
        spent = min(cost, budget)
        held = WINDOW * (cost / budget - 1) if cost > budget else 0.0
        in_window = sum(c for t, c in sent if t > fake.now - WINDOW)
        assert in_window + spent <= budget + 1e-9  # what the exchange would count
        if len(fake.slept) > sleeps:  # it waited: there was no room until just now
            for moment in (asked_at, fake.now - 1e-6):
                assert sum(c for t, c in sent if t > moment - WINDOW) + spent > budget
        sent.append((fake.now + held, spent))
