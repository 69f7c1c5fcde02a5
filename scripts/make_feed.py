"""Generate shared/stratus/data/feed.csv, the price feed the paper exchange replays.

The data is synthetic: a seeded geometric random walk per symbol, one tick a minute for
three hours from 2026-01-05T00:00:00Z, for BTC/USDT:USDT (~60000, spread 0.5-1.0 USD),
ETH/USDT:USDT (~3000, spread 0.03-0.12) and SOL/USDT:USDT (~150, spread 0.01-0.03).

Columns: timestamp (ISO-8601 UTC), symbol, bid, ask, last, volume. Prices sit on each
market's price tick; `last` is the bid or the ask (the side the last trade hit); volume is
the base quantity traded during the tick, on the amount step.

Only `random.random()` and IEEE +, -, * are used (no libm calls such as exp or log), so the
same seed gives the same bytes on every platform. Run it again after changing it and commit
the CSV; `--check` exits 1 when the shipped file no longer matches (for CI).
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

SEED = 20260105
START = datetime(2026, 1, 5, tzinfo=UTC)
MINUTES = 180
OUTPUT = Path(__file__).resolve().parents[1] / "shared" / "stratus" / "data" / "feed.csv"


@dataclass(frozen=True)
class Walk:
    symbol: str
    start: float  # first mid price
    sigma: float  # standard deviation of one minute's return
    tick: Decimal  # price step
    spread_ticks: tuple[int, int]  # inclusive range of the spread, in ticks
    volume: float  # typical base volume per minute
    step: Decimal  # amount step


WALKS = (
    Walk("BTC/USDT:USDT", 60000.0, 0.0007, Decimal("0.1"), (5, 10), 8.0, Decimal("0.001")),
    Walk("ETH/USDT:USDT", 3000.0, 0.0009, Decimal("0.01"), (3, 12), 120.0, Decimal("0.01")),
    Walk("SOL/USDT:USDT", 150.0, 0.0012, Decimal("0.01"), (1, 3), 2500.0, Decimal("0.1")),
)


def standard_normal(rng: random.Random) -> float:
    """Irwin-Hall approximation (sum of 12 uniforms - 6): no libm, so bit-reproducible."""
    return sum(rng.random() for _ in range(12)) - 6.0


def floor_to(value: float, step: Decimal) -> Decimal:
    return (Decimal(repr(value)) / step).to_integral_value(ROUND_FLOOR) * step


def tick_row(walk: Walk, rng: random.Random, mid: float, moment: datetime) -> str:
    spread = walk.tick * rng.randint(*walk.spread_ticks)
    bid = floor_to(mid, walk.tick) - (spread / 2).quantize(walk.tick, ROUND_FLOOR)
    ask = bid + spread
    last = ask if rng.random() < 0.5 else bid
    volume = max(floor_to(walk.volume * (0.3 + 1.4 * rng.random()), walk.step), walk.step)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{stamp},{walk.symbol},{bid},{ask},{last},{volume}"


def generate(seed: int = SEED) -> str:
    rng = random.Random(seed)
    mids = {walk.symbol: walk.start for walk in WALKS}
    lines = ["timestamp,symbol,bid,ask,last,volume"]
    for minute in range(MINUTES):
        moment = START + timedelta(minutes=minute)
        for walk in WALKS:
            lines.append(tick_row(walk, rng, mids[walk.symbol], moment))
            mids[walk.symbol] *= 1.0 + walk.sigma * standard_normal(rng)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--check", action="store_true", help="fail if the file differs")
    args = parser.parse_args(argv)
    text = generate(args.seed)
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: run scripts/make_feed.py", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {MINUTES * len(WALKS)} ticks to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
