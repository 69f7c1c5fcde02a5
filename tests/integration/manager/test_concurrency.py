"""Many writers at once: no over-reservation, no lost update, each fill applied once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import TypeVar

from stratus.adapters.sql.accounts import SqlAccounts
from stratus.domain.orders import Fill, OrderRequest
from stratus.domain.positions import replay
from stratus.service.services import Services
from tests.integration.manager.conftest import Api, MasterKey, fill, order_request

THREADS = 12
T = TypeVar("T")


def request(n: int) -> OrderRequest:
    return OrderRequest.model_validate(order_request(n))


def run_all(calls: Sequence[Callable[..., T]]) -> list[T]:
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_concurrent_reservations_never_pass_a_quota_together(api: Api, system: Services) -> None:
    api.account()
    api.put("/api/v1/quotas/acct-1/trend", json={"max_notional": "1000", "max_open_orders": 100})
    # 40 requests of 100 against 1000: exactly 10 may pass, whatever the interleaving;
    # every request is sent twice, and a repeat of a granted one must not count again.
    requests = [request(n) for n in range(40)] * 2
    results = run_all([lambda r=r: system.quotas.reserve(r, Decimal(100)) for r in requests])
    granted = {r.request_id for r, result in zip(requests, results, strict=True) if result is None}
    assert len(granted) == 10
    usage = api.store.quotas.usage("acct-1", "trend")
    assert (usage.held_notional, usage.open_orders) == (Decimal(1000), 10)
    refused = [result for result in results if result is not None]
    assert set(refused) == {"quota_max_notional"}


def test_concurrent_release_and_reserve_keep_the_books(api: Api, system: Services) -> None:
    api.account()
    api.put("/api/v1/quotas/acct-1/trend", json={"max_open_orders": 5})
    held = [request(n) for n in range(5)]
    for r in held:
        assert system.quotas.reserve(r, Decimal(1)) is None
    newcomers = [request(n) for n in range(5, 15)]
    calls: list[Callable[..., object]] = [
        lambda r=r: system.quotas.release(r.request_id) for r in held
    ]
    calls += [lambda r=r: system.quotas.reserve(r, Decimal(1)) for r in newcomers]
    run_all(calls)
    assert api.store.quotas.usage("acct-1", "trend").open_orders <= 5
    assert (
        api.store.quotas.held("acct-1", "trend")
        == api.store.quotas.usage("acct-1", "trend").open_orders
    )


def test_concurrent_fills_on_one_position_lose_nothing(api: Api, system: Services) -> None:
    fills = [
        Fill.model_validate(fill(n, "buy" if n % 3 else "sell", price=str(90 + n)))
        for n in range(60)
    ]
    # Every fill is delivered twice, concurrently: Pub/Sub's at-least-once.
    results = run_all([lambda f=f: system.ledger.apply_fill(f) for f in fills * 2])
    assert sum(result is not None for result in results) == 60
    stored = system.ledger.position("acct-1", "trend", "BTC/USDT")
    assert len(system.ledger.fills("acct-1")) == 60
    assert stored.quantity == Decimal(60 - 2 * 20)
    [row] = api.get("/api/v1/positions").json()["items"]
    assert row["version"] == 60  # every fill moved the position exactly once
    # Arrival order differs from execution order; the position follows execution order.
    assert api.post("/api/v1/positions/validate").json()["valid"] is True
    by_time = replay(system.ledger.fills("acct-1"), "acct-1", "trend", "BTC/USDT")
    assert by_time.quantity == stored.quantity


def test_concurrent_allocations_never_exceed_equity(api: Api) -> None:
    api.account(equity="1000")
    calls = [
        lambda n=n: api.put(f"/api/v1/allocations/acct-1/s{n}", json={"amount": "300"}).status_code
        for n in range(8)
    ]
    statuses = run_all(calls)
    assert sorted(statuses) == [201] * 3 + [409] * 5


def test_rotation_while_reading(api: Api, system: Services, master_key: MasterKey) -> None:
    import json

    from stratus.crypto import Keyring

    for n in range(10):
        api.account(f"acct-{n}")
    accounts = system.accounts
    assert isinstance(accounts, SqlAccounts)
    ring = Keyring.parse(master_key.value).with_new_version()
    master_key.value = ring.dump()
    readers = [lambda n=n: accounts.exchange_account(f"acct-{n % 10}").secret for n in range(40)]
    results: list[object] = run_all([accounts.rotate, *readers])
    assert results[0] == 10
    assert results[1:] == [f"secret-acct-{n % 10}" for n in range(40)]
    assert accounts.key_versions() == {"v2": 10}
    master_key.value = json.dumps(
        {"current": "v2", "keys": {"v2": json.loads(ring.dump())["keys"]["v2"]}}
    )
    fresh = SqlAccounts(api.store.database, type(accounts.vault)(master_key), system.clock)
    assert fresh.exchange_account("acct-3").secret == "secret-acct-3"
