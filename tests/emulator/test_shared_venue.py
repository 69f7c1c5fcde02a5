"""Issue 12, item 4 (c): the function processes of the emulator stack trade on one paper
venue in Firestore, so the reconcile function (another process) compares against the
venue execute_order traded on, and finds nothing to correct."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal as D

from tests.emulator.helpers import BTC, SOL, eventually, fills, opened, positions, publish, signal

from stratus.adapters.clock import SystemClock
from stratus.adapters.firestore_paper_venues import FirestoreVenueStore
from stratus.adapters.firestore_state import FirestoreStateStore
from stratus.adapters.paper.venues import PaperVenues
from stratus.domain.orders import OrderStatus
from stratus.local.stack import Stack
from stratus.scheduling import headers_for


def test_function_processes_share_one_paper_venue(stack: Stack) -> None:
    account = opened(stack, "acct-venue")
    publish(stack, signal(account, BTC, "buy", "0.02"))
    publish(stack, signal(account, SOL, "buy", "5", limit_price="140"))  # rests: SOL > 148
    eventually(lambda: positions(stack, account), lambda p: p.get(BTC) == D("0.02"))
    state = FirestoreStateStore(stack.config.project, SystemClock())
    working = eventually(
        lambda: [r for r in state.orders(account) if r.status is OrderStatus.OPEN],
        lambda found: len(found) == 1,
    )

    # A third process (this one) on the same store sees what execute_order placed.
    store = FirestoreVenueStore(stack.config.project)
    venue = PaperVenues(SystemClock(), store=store).for_account(account)
    assert {p.symbol: p.quantity for p in venue.positions()} == {BTC: D("0.02")}
    assert [o.client_order_id for o in venue.open_orders()] == [working[0].client_order_id]

    at = datetime.now(UTC)
    request = urllib.request.Request(
        stack.endpoints.functions["reconcile"],
        data=b"",
        method="POST",
        headers=headers_for("test-shared-venue", at),
    )
    with urllib.request.urlopen(request, timeout=60) as reply:
        report = json.loads(reply.read())["accounts"][account]
    assert (report["drifts"], report["lost_orders"], report["unknown_orders"]) == ([], [], [])
    assert report["adopted_fills"] == 0
    assert [f.strategy for f in fills(stack, account)] == ["strat-a"]
    assert [r.status for r in state.orders(account)].count(OrderStatus.OPEN) == 1
