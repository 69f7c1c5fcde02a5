"""ccxt.bybit's own signing, request building and parsing, against the paper Bybit v5
server: the order path and its failure modes, offline."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from stratus.adapters.ccxt_exchange import CcxtExchanges, make_client
from stratus.adapters.paper.bybit_http import ServedBybit
from stratus.adapters.sql.market_cache import SqlMarketCache
from stratus.config import Settings
from stratus.domain import errors
from stratus.domain.orders import OrderRequest, OrderStatus
from stratus.ports import ExchangeAccount
from stratus.service.handlers.execution import execute_order
from stratus.service.services import Services
from tests.integration.exchange.conftest import Directory

BTC = "BTC/USDT:USDT"
CREATE = "/v5/order/create"


def creates(served: ServedBybit) -> int:
    return served.app.requests.count(("POST", CREATE))


def venue_orders(served: ServedBybit) -> list[dict[str, object]]:
    paper = next(iter(served.app.accounts.values())).venue
    return paper.fetch_open_orders() + paper.fetch_canceled_and_closed_orders()


def test_a_market_order_is_signed_placed_parsed_and_filled(
    exchanges: CcxtExchanges, served: ServedBybit, make_request: Callable[..., OrderRequest]
) -> None:
    venue = exchanges.for_account("bybit-main")
    placed = venue.place(make_request("r-1", "0.01"))
    assert placed.status is OrderStatus.FILLED
    assert placed.filled == Decimal("0.01")
    assert placed.fee > 0
    assert placed.cost / placed.filled >= venue.quote(BTC).ask * Decimal("0.999")
    assert [p.quantity for p in venue.positions()] == [Decimal("0.01")]


def test_a_wrong_secret_fails_the_signature_check(settings: Settings, served: ServedBybit) -> None:
    forged = make_client(ExchangeAccount("x", "bybit", "test-key", "not-the-secret"), settings)
    forged.load_markets()  # public: no signature needed
    with pytest.raises(Exception, match="10004") as raised:
        forged.fetch_balance()
    assert type(raised.value).__name__ == "AuthenticationError"


def test_an_unknown_api_key_is_refused(settings: Settings, served: ServedBybit) -> None:
    stranger = make_client(ExchangeAccount("x", "bybit", "nobody", "whatever"), settings)
    with pytest.raises(Exception, match="10003"):
        stranger.fetch_balance()


def test_order_link_id_makes_creation_idempotent(
    exchanges: CcxtExchanges, served: ServedBybit, make_request: Callable[..., OrderRequest]
) -> None:
    venue = exchanges.for_account("bybit-main")
    request = make_request("r-dup", "0.01", limit="50000")
    first = venue.place(request)
    with pytest.raises(errors.DuplicateOrder):
        venue.place(request)
    found = venue.lookup(request.client_order_id, BTC)
    assert found is not None
    assert found.exchange_order_id == first.exchange_order_id
    assert found.status is OrderStatus.OPEN
    assert len(venue_orders(served)) == 1


def test_lookup_finds_final_orders_in_history_and_none_for_unknown_ids(
    exchanges: CcxtExchanges, served: ServedBybit, make_request: Callable[..., OrderRequest]
) -> None:
    venue = exchanges.for_account("bybit-main")
    request = make_request("r-hist", "0.01")
    venue.place(request)
    served.app.requests.clear()
    assert venue.lookup(request.client_order_id, BTC) is not None
    assert ("GET", "/v5/order/history") in served.app.requests
    assert venue.lookup("stx-never-placed", BTC) is None


def test_a_timeout_after_booking_recovers_without_a_second_order(
    live: Services, served: ServedBybit, make_request: Callable[..., OrderRequest]
) -> None:
    served.app.faults.slow_after_booking[CREATE] = 1  # booked, but the answer never comes
    request = make_request("r-timeout", "0.01")
    execute_order(live, request)
    record = live.state.get_order(request.client_order_id)
    assert record is not None
    assert record.status is OrderStatus.FILLED
    assert creates(served) == 1  # the lookup found it: no second create
    assert len(venue_orders(served)) == 1
    assert len(record.fills) == 1


def test_rate_limit_backs_off_then_places_once(
    live: Services,
    served: ServedBybit,
    sleeps: list[float],
    make_request: Callable[..., OrderRequest],
) -> None:
    served.app.faults.rate_limited[CREATE] = 2  # retCode 10006 twice
    request = make_request("r-limited", "0.01")
    execute_order(live, request)
    record = live.state.get_order(request.client_order_id)
    assert record is not None
    assert record.status is OrderStatus.FILLED
    assert len(sleeps) == 2  # one backoff per refusal
    assert creates(served) == 3
    assert len(venue_orders(served)) == 1


def test_insufficient_funds_is_rejected_without_retry(
    live: Services,
    served: ServedBybit,
    sleeps: list[float],
    make_request: Callable[..., OrderRequest],
) -> None:
    request = make_request("r-broke", "100")  # ~6M USDT of BTC on a 100k account
    with pytest.raises(errors.OrderRejected, match="insufficient_funds"):
        execute_order(live, request)  # permanent: the message goes to the dead letters
    record = live.state.get_order(request.client_order_id)
    assert record is not None
    assert record.status is OrderStatus.REJECTED
    assert "110007" in record.detail
    assert creates(served) == 1
    assert sleeps == []


def test_cached_markets_spare_the_cold_start_its_market_requests(
    settings: Settings,
    directory: object,
    market_cache: SqlMarketCache,
    served: ServedBybit,
    make_request: Callable[..., OrderRequest],
) -> None:
    warm = CcxtExchanges(settings, directory, market_cache)  # type: ignore[arg-type]
    warm.for_account("bybit-main").market(BTC)
    assert ("GET", "/v5/market/instruments-info") in served.app.requests
    served.app.requests.clear()
    cold = CcxtExchanges(settings, directory, market_cache)  # type: ignore[arg-type]
    placed = cold.for_account("bybit-main").place(make_request("r-cold", "0.01"))
    assert placed.status is OrderStatus.FILLED
    paths = [path for _, path in served.app.requests]
    assert paths == [CREATE, "/v5/order/history"]  # a market order: history first


@pytest.mark.parametrize("paced", [True, False])
def test_pacing_keeps_a_burst_inside_bybits_per_second_window(
    settings: Settings, served: ServedBybit, directory: Directory, paced: bool
) -> None:
    """Bybit allows order/realtime 10 times a second (ccxt: cost 5 of 50 a second). The
    rolling budget lets the first 10 go at once and holds the 11th until the window has
    room; unpaced, the 11th is refused with 10006: the server really counts."""
    account = directory.exchange_account("bybit-main")
    markets = make_client(account, settings).load_markets()
    served.app.requests_per_second = 10
    client = make_client(account, settings.model_copy(update={"exchange_rate_limit": paced}))
    client.set_markets(markets)
    listings = [client.fetch_open_orders(BTC) for _ in range(10)]
    assert listings == [[]] * 10
    if paced:
        assert client.fetch_open_orders(BTC) == []
    else:
        with pytest.raises(Exception, match="10006"):
            client.fetch_open_orders(BTC)
