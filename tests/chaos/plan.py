"""A chaos run, decided up front from one seed: the signals, their copies, the faults.

Everything random about a run comes from `plan(seed)`, so a failing run is replayed
with STRATUS_CHAOS_SEED=<the printed seed> (timing still varies: processes race).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from stratus.contracts import codec
from stratus.domain.signals import Signal

SYMBOLS = {  # symbol -> (smallest, largest) quantity of an ordinary signal
    "BTC/USDT:USDT": (1, 20),  # thousandths
    "ETH/USDT:USDT": (10, 300),  # thousandths
    "SOL/USDT:USDT": (1, 8),  # units
}
SCALE = {"BTC/USDT:USDT": "0.001", "ETH/USDT:USDT": "0.001", "SOL/USDT:USDT": "1"}
# Larger than half an account's equity: risk rejects it (max_order_balance_ratio).
OVERSIZED = {"BTC/USDT:USDT": "1.5", "ETH/USDT:USDT": "25", "SOL/USDT:USDT": "500"}
KILLABLE = ("on_signal", "check_risk", *["execute_order", "update_position"] * 2)
OUTAGE_SECONDS = 15.0


@dataclass(frozen=True)
class Planned:
    """One signal: published `copies` times; the extra copies at once without an
    ordering key (so Pub/Sub delivers them concurrently with the first), or `later`
    with one (a redelivery behind newer signals)."""

    at: float  # seconds after the start
    signal: Signal
    copies: int
    later: bool


@dataclass(frozen=True)
class Fault:
    at: float
    # "kill", "outage" (kill and keep down OUTAGE_SECONDS) or "reconcile" (the sweep, then
    # reconcile, as their schedules call them)
    action: str
    function: str = ""


@dataclass(frozen=True)
class Plan:
    seed: int
    signals: list[Planned]
    faults: list[Fault]
    accounts: list[str]

    @property
    def duration(self) -> float:
        return max(p.at for p in self.signals)

    def describe(self) -> str:
        kills = sum(f.action == "kill" for f in self.faults)
        copies = sum(p.copies for p in self.signals)
        return (
            f"chaos seed {self.seed}: {len(self.signals)} signals ({copies} copies) over "
            f"{len(self.accounts)} accounts in {self.duration:.0f} s, {kills} server kills, "
            f"an executor outage of {OUTAGE_SECONDS:.0f} s, sweep and reconcile mid-run "
            f"(replay: STRATUS_CHAOS_SEED={self.seed})"
        )


def plan(seed: int, signals: int = 200, accounts: int = 3, per_second: float = 10.0) -> Plan:
    rng = random.Random(seed)
    names = [f"chaos-{seed}-{n}" for n in range(accounts)]
    strategies = ["trend", "hedge"]
    planned = []
    for number in range(signals):
        at = number / per_second
        account, strategy = rng.choice(names), rng.choice(strategies)
        symbol = rng.choice(list(SYMBOLS))
        roll = rng.random()
        if roll < 0.1:
            action, quantity = "close", None
        else:
            action = "buy" if roll < 0.55 else "sell"
            low, high = SYMBOLS[symbol]
            quantity = str(rng.randint(low, high) * Decimal(SCALE[symbol]))
            if rng.random() < 0.05:
                quantity = OVERSIZED[symbol]
        signal = _signal(f"s{seed}-{number}", account, strategy, symbol, action, quantity)
        planned.append(Planned(at, signal, rng.choice([1, 2, 3]), rng.random() < 0.5))
    duration = max(p.at for p in planned)
    outage = duration * 0.4
    faults = [Fault(outage, "outage", "execute_order"), Fault(duration * 0.7, "reconcile")]
    # Kills go on while the backlog of the outage drains, the executor's and the
    # ledger's servers twice as often: their steps are the ones a crash can split.
    at, end = 1.0, duration + OUTAGE_SECONDS + 5
    while at < end:
        function = rng.choice(KILLABLE)
        if not (function == "execute_order" and outage - 1 < at < outage + OUTAGE_SECONDS + 5):
            faults.append(Fault(at, "kill", function))
        at += rng.uniform(1.0, 3.0)
    return Plan(seed, planned, sorted(faults, key=lambda f: f.at), names)


def _signal(
    signal_id: str, account: str, strategy: str, symbol: str, action: str, quantity: str | None
) -> Signal:
    fields = {
        "signal_id": signal_id,
        "source": "chaos",
        "account": account,
        "strategy": strategy,
        "symbol": symbol,
        "action": action,
        "confidence": 0.95,  # market orders
        "created_at": datetime.now(UTC).isoformat(),
    }
    if quantity is not None:
        fields["quantity"] = quantity
    return codec.parse(Signal, fields)
