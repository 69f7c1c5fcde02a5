"""Analytics over HTTP on SQLite and PostgreSQL: the worked example of docs/analytics.md,
and the summary against a recomputation of a random stream's trips."""

from __future__ import annotations

import json
import random
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from stratus.domain.orders import Fill
from tests.integration.manager.conftest import START, Api, fill
from tests.trip_oracle import expected_trips

DOC = Path(__file__).parents[3] / "docs" / "analytics.md"
DAY0 = START.replace(day=1, hour=0)  # 2026-03-01 00:00 UTC


def _documented_answer() -> dict[str, object]:
    text = DOC.read_text()
    block = re.search(r"answers \(tests/.*?```json\n(.*?)```", text, re.S)
    assert block is not None, "the worked example's answer block"
    answer: dict[str, object] = json.loads(block.group(1))
    return answer


def _example_fills() -> list[dict[str, str]]:
    def at(hours: float) -> dict[str, object]:
        return {"at": DAY0 + timedelta(hours=hours)}

    return [
        fill(1, "buy", "1", "100", fee="0.5", **at(0)),  # type: ignore[arg-type]
        fill(2, "sell", "1", "110", fee="0.5", **at(12)),  # type: ignore[arg-type]
        fill(3, "sell", "2", "100", fee="1", **at(24)),  # type: ignore[arg-type]
        fill(4, "buy", "2", "104", fee="1", **at(30)),  # type: ignore[arg-type]
        fill(5, "buy", "1", "100", fee="0.5", **at(36)),  # type: ignore[arg-type]
        fill(6, "sell", "1", "106", fee="0.5", **at(48)),  # type: ignore[arg-type]
        fill(7, "buy", "1", "100", fee="0.5", **at(54)),  # type: ignore[arg-type]
        fill(8, "sell", "1", "100.5", fee="0.5", **at(60)),  # type: ignore[arg-type]
    ]


def test_the_worked_example_answers_as_documented(api: Api) -> None:
    assert api.post("/api/v1/positions/update", json={"fills": _example_fills()}).status_code == 200
    period = {"since": DAY0.isoformat(), "until": (DAY0 + timedelta(days=3)).isoformat()}
    answer = api.get("/api/v1/analytics/summary", role="reader", params=period).json()
    documented = _documented_answer()
    assert {key: answer[key] for key in documented} == documented
    trades = api.get("/api/v1/analytics/trades", params={"status": "closed"}).json()
    assert [t["id"] for t in trades["items"]] == ["fill-7", "fill-5", "fill-3", "fill-1"]
    fourth = trades["items"][0]
    assert (fourth["gross_pnl"], fourth["fees"], fourth["net_pnl"]) == ("0.5", "1", "-0.5")
    assert (fourth["entry_average"], fourth["exit_average"], fourth["duration_seconds"]) == (
        "100", "100.5", 6 * 3600,
    )  # fmt: skip
    history = api.get("/api/v1/analytics/pnl-history", params={**period, "interval": "day"})
    points = [(p["net_pnl"], p["equity"], p["drawdown"]) for p in history.json()["points"]]
    assert points == [("9", "9", "0"), ("-10", "-1", "10"), ("4.5", "3.5", "5.5")]


def test_summary_matches_a_recomputation_of_the_trips(api: Api) -> None:
    rng = random.Random(23)
    stream = [
        fill(
            n,
            rng.choice(["buy", "sell"]),
            quantity=rng.choice(["1", "2", "3"]),
            price=rng.choice(["97", "100", "101.5", "104"]),
            fee=rng.choice(["0.1", "0.25"]),
            strategy=rng.choice(["trend", "carry"]),
            at=START + timedelta(hours=3 * n),
        )
        for n in range(150)
    ]
    api.post("/api/v1/positions/update", json={"fills": stream[:100]})
    api.post("/api/v1/positions/update", json={"fills": stream[100:]})
    fills = [Fill.model_validate(f) for f in stream]
    for strategy in ("trend", "carry"):
        closed = [e for e in expected_trips(fills) if e.closed_at and e.key[1] == strategy]
        nets = [e.gross - e.fees for e in closed]
        wins = [n for n in nets if n > 0]
        losses = [n for n in nets if n < 0]
        answer = api.get("/api/v1/analytics/summary", params={"strategy": strategy}).json()
        assert "trades" in answer, answer
        assert answer["trades"] == len(closed)
        assert (answer["wins"], answer["losses"]) == (len(wins), len(losses))
        assert answer["win_rate"] == _six(Decimal(len(wins)) / len(nets))
        assert answer["profit_factor"] == _six(sum(wins, Decimal(0)) / -sum(losses, Decimal(0)))
        assert abs(Decimal(answer["net_pnl"]) - sum(nets)) <= Decimal("0.00000001")


def _six(value: Decimal) -> str:
    text = f"{value.quantize(Decimal('0.000001')):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def test_bad_ranges_are_400s(api: Api) -> None:
    later, earlier = (START + timedelta(days=1)).isoformat(), START.isoformat()
    answer = api.get("/api/v1/analytics/summary", params={"since": later, "until": earlier})
    assert (answer.status_code, answer.json()["error"]) == (400, "empty_range")
    far = (START - timedelta(days=400)).isoformat()
    answer = api.get("/api/v1/analytics/pnl-history", params={"since": far, "interval": "hour"})
    assert (answer.status_code, answer.json()["error"]) == (400, "too_many_points")
    answer = api.get("/api/v1/analytics/pnl-history", params={"interval": "month"})
    assert answer.status_code == 422
