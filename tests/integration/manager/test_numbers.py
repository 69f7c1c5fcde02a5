"""Answers write numbers one way on SQLite and PostgreSQL: no exponent, no database
digits, each kind at its scale (docs/manager.md, "Numbers in answers")."""

from __future__ import annotations

import re

from tests.integration.manager.conftest import Api, fill

# Positional decimal text with at most 12 places (prices and quantities have the most).
POSITIONAL = re.compile(r"^-?[0-9]+(\.[0-9]{0,11}[1-9])?$")


def _numbers(value: object, key: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in _numbers(v, k)]
    if isinstance(value, list):
        return [pair for item in value for pair in _numbers(item, key)]
    if isinstance(value, str) and re.fullmatch(r"-?[0-9.E+\-]+", value) and key != "fill_id":
        return [(key, value)]
    return []


def test_computed_numbers_are_plain_and_rounded(api: Api) -> None:
    fills = [
        fill(1, quantity="1", price="100"),
        fill(2, quantity="2", price="101", fee="0.1"),  # entry 302 / 3
        fill(3, "sell", quantity="3", price="90", fee="0.2"),  # a loss only: no wins
    ]
    assert api.post("/api/v1/positions/update", json={"fills": fills}).status_code == 200
    summary = api.get("/api/v1/portfolio/summary").json()
    assert summary["profit_factor"] == "0"  # was "0E+4" with a loss of 32
    assert summary["realized_pnl"] == "-32"
    assert summary["fees"] == "0.3"
    assert summary["win_rate"] == "0"
    fills = [fill(4, quantity="3", price="100"), fill(5, quantity="3", price="100.1")]
    api.post("/api/v1/positions/update", json={"fills": fills})
    position = api.get("/api/v1/positions").json()["items"][0]
    assert position["average_entry"] == "100.05"
    api.post("/api/v1/positions/update", json={"fills": [fill(6, quantity="1", price="101")]})
    position = api.get("/api/v1/positions").json()["items"][0]
    assert position["average_entry"] == "100.185714285714"  # 701.3 / 7, at 12 places
    assert position["quantity"] == "7"
    for path in ("/api/v1/portfolio/summary", "/api/v1/positions", "/api/v1/portfolio/pnl"):
        for key, text in _numbers(api.get(path).json()):
            assert POSITIONAL.fullmatch(text), (path, key, text)


def test_exposure_shares_are_fractions(api: Api) -> None:
    fills = [fill(1, quantity="1", price="300"), fill(2, symbol="ETH/USDT", price="100")]
    api.post("/api/v1/positions/update", json={"fills": fills})
    shares = {e["asset"]: e["share"] for e in api.get("/api/v1/portfolio/exposure").json()}
    assert shares == {"BTC": "0.75", "ETH": "0.25"}
    summary = api.get("/api/v1/portfolio/summary").json()
    assert summary["largest_position_share"] == "0.75"
