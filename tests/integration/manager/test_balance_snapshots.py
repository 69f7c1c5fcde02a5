"""Balance snapshots: stored with the position snapshot, in one transaction, once per
schedule time; accepted (validated) by POST /positions/snapshots, read back from
GET /balances/snapshots."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from stratus.adapters.sql import ledger as sql_ledger
from stratus.adapters.sql.db import Database
from stratus.adapters.sql.ledger import SqlLedger
from stratus.adapters.sql.tables import BalanceSnapshotRow, SnapshotRow, SnapshotRunRow
from stratus.domain.orders import Fill
from stratus.manager.store import Store
from stratus.service.services import Services
from tests.integration.manager.conftest import START, Api, D, fill

SNAPSHOTS = "/api/v1/positions/snapshots"
HISTORY = "/api/v1/balances/snapshots"
WALLETS = {"acct-1": {"USDT": D("10000.5"), "BTC": D("0.25")}, "acct-2": {"USDT": D("-3")}}


@pytest.fixture
def ledger(system: Services) -> SqlLedger:
    return Store.of(system).ledger


def stored(database: Database, taken_at: datetime = START) -> dict[tuple[str, str], Decimal]:
    query = select(BalanceSnapshotRow).where(BalanceSnapshotRow.taken_at == taken_at)
    with database.transaction() as session:
        return {(row.account, row.asset): row.total for row in session.scalars(query)}


def counts(database: Database) -> list[int]:
    """Rows in snapshot_runs, position_snapshots and balance_snapshots."""
    tables = (SnapshotRunRow, SnapshotRow, BalanceSnapshotRow)
    with database.transaction() as session:
        return [session.scalar(select(func.count()).select_from(t)) or 0 for t in tables]


def test_balances_are_stored_once_per_schedule_time(ledger: SqlLedger) -> None:
    ledger.apply_fill(Fill.model_validate(fill(1)))
    assert ledger.record_snapshot(START, {"BTC/USDT": D(120)}, WALLETS) is True
    changed = {"acct-1": {"USDT": D(1)}, "acct-3": {"ETH": D(2)}}
    assert ledger.record_snapshot(START, {"BTC/USDT": D(130)}, changed) is False
    assert stored(ledger.database) == {
        ("acct-1", "USDT"): D("10000.5"),
        ("acct-1", "BTC"): D("0.25"),
        ("acct-2", "USDT"): D(-3),
    }
    assert counts(ledger.database) == [1, 1, 3]
    later = START + timedelta(minutes=15)
    assert ledger.record_snapshot(later, {}, {"acct-1": {"USDT": D("9999.123456789012345678")}})
    assert stored(ledger.database, later) == {("acct-1", "USDT"): D("9999.123456789012345678")}


def test_positions_and_balances_are_written_together_or_not_at_all(
    ledger: SqlLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.apply_fill(Fill.model_validate(fill(1)))

    def broken(taken_at: datetime, balances: object) -> list[BalanceSnapshotRow]:
        raise RuntimeError("storage failed mid-snapshot")

    with monkeypatch.context() as patch:
        patch.setattr(sql_ledger, "_balance_rows", broken)
        with pytest.raises(RuntimeError):
            ledger.record_snapshot(START, {}, WALLETS)
    assert counts(ledger.database) == [0, 0, 0]
    assert ledger.record_snapshot(START, {}, WALLETS) is True  # the retry is not refused
    assert counts(ledger.database) == [1, 1, 3]


def test_the_api_stores_the_balances_it_is_given(api: Api) -> None:
    api.post("/api/v1/positions/update", json={"fills": [fill(1)]})
    body = {
        "taken_at": START.isoformat(),
        "balances": {"acct-1": {"USDT": "10000.5", "BTC": "0.25"}, "acct-2": {"USDT": "-3"}},
    }
    assert api.post(SNAPSHOTS, role="trader", json=body).status_code == 201
    again = {**body, "balances": {"acct-1": {"USDT": "1"}}}
    assert api.post(SNAPSHOTS, role="trader", json=again).status_code == 200
    assert stored(api.store.database) == {
        ("acct-1", "USDT"): D("10000.5"),
        ("acct-1", "BTC"): D("0.25"),
        ("acct-2", "USDT"): D(-3),
    }
    [entry] = api.get("/api/v1/audit", params={"entity": "snapshot"}).json()["items"]
    assert entry["after"] == {"positions": 1, "balances": 3}


@pytest.mark.parametrize(
    "balances",
    [
        {"acct-1": {"USDT": "lots"}},
        {"acct-1": {"USDT": "1e15"}},
        {"acct-1": {"USDT": "0.0000000000000000001"}},  # 19 places
        {"acct-1": {"US DT": "1"}},
        {"acct 1": {"USDT": "1"}},
        {"acct-1": ["USDT", "1"]},
        {"acct-1": {"USDT": "NaN"}},
    ],
)
def test_a_bad_balance_is_refused_and_nothing_is_written(api: Api, balances: object) -> None:
    api.post("/api/v1/positions/update", json={"fills": [fill(1)]})
    body = {"taken_at": START.isoformat(), "balances": balances}
    refused = api.post(SNAPSHOTS, role="trader", json=body)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"][:2] == ["body", "balances"]
    assert counts(api.store.database) == [0, 0, 0]
    good = {"taken_at": START.isoformat(), "balances": {"acct-1": {"USDT": "1"}}}
    assert api.post(SNAPSHOTS, role="trader", json=good).status_code == 201


def minutes_after_start(stamp: str) -> int:
    return (datetime.fromisoformat(stamp) - START) // timedelta(minutes=1)


def test_history_is_filtered_and_paged_for_readers(api: Api) -> None:
    for minutes, usdt in ((0, "100"), (15, "101"), (30, "102")):
        wallets = {"acct-1": {"USDT": usdt, "BTC": "0.5"}, "acct-2": {"USDT": "7"}}
        body = {"taken_at": (START + timedelta(minutes=minutes)).isoformat(), "balances": wallets}
        assert api.post(SNAPSHOTS, role="trader", json=body).status_code == 201

    def history(**params: str) -> list[tuple[int, str, str, str]]:
        answer = api.get(HISTORY, role="reader", params=params)
        assert answer.status_code == 200, answer.text
        return [
            (minutes_after_start(i["taken_at"]), i["account"], i["asset"], i["total"])
            for i in answer.json()["items"]
        ]

    assert history(account="acct-1", asset="USDT") == [
        (30, "acct-1", "USDT", "102"),
        (15, "acct-1", "USDT", "101"),
        (0, "acct-1", "USDT", "100"),
    ]
    since, until = START + timedelta(minutes=15), START + timedelta(minutes=30)
    assert history(since=since.isoformat(), until=until.isoformat()) == [
        (15, "acct-1", "BTC", "0.5"),
        (15, "acct-1", "USDT", "101"),
        (15, "acct-2", "USDT", "7"),
    ]
    page = api.get(HISTORY, params={"limit": 2, "offset": 8}).json()
    assert (page["total"], len(page["items"]), page["items"][0]["account"]) == (9, 1, "acct-2")
    assert api.get(HISTORY, role="").status_code == 401
    assert api.get(HISTORY, params={"since": "2026-03-02T12:00:00"}).status_code == 422
