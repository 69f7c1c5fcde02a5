"""What the demo prints: signals and their fate, orders, fills, positions, portfolio and
trades (round trips, net of fees)."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING

from stratus.adapters.local_bus import LocalBus
from stratus.cli.tables import amount, money, table
from stratus.domain.analytics import lifetime_stats
from stratus.domain.portfolio import portfolio_metrics
from stratus.domain.positions import replay
from stratus.domain.round_trips import round_trips
from stratus.service.services import Services

if TYPE_CHECKING:
    from stratus.cli.demo import Outcome


def render(services: Services, bus: LocalBus, outcomes: list[Outcome]) -> str:
    return "\n".join(
        [
            _signals(services, bus, outcomes),
            _orders(services),
            _fills(services),
            _positions(services),
            _portfolio(services),
            _trades(services),
        ]
    )


def _fates(bus: LocalBus) -> dict[str, list[str]]:
    """signal_id -> what happened downstream (dead letters and risk rejections)."""
    fates: dict[str, list[str]] = defaultdict(list)
    for envelope in bus.messages("signals-dead-letter"):
        signal_id = json.loads(envelope.data).get("signal_id", "?")
        reason = envelope.attributes.get("reason", "")
        fates[signal_id].append(f"dead-lettered: {reason} ({envelope.attributes.get('detail')})")
    for envelope in bus.messages("order-rejections"):
        rejection = json.loads(envelope.data)
        fates[rejection["signal_id"]].append(
            f"leg rejected: {rejection['reason']} ({rejection['detail']})"
        )
    return fates


def _signals(services: Services, bus: LocalBus, outcomes: list[Outcome]) -> str:
    fates = _fates(bus)
    orders: dict[str, int] = defaultdict(int)
    for record in services.state.orders():
        orders[record.request.signal_id] += 1
    seen: set[str] = set()
    rows = []
    for outcome in outcomes:
        signal = outcome.signal
        signal_id = str(signal.get("signal_id", "?"))
        if outcome.status != 202:
            answer = outcome.answer
            result = f"refused {outcome.status}: {answer['error']} ({answer['detail']})"
        elif signal_id in seen:
            result = "accepted; repeated signal_id, deduplicated: no new order"
        else:
            notes = [f"{orders[signal_id]} order(s)", *fates.get(signal_id, [])]
            result = "accepted: " + "; ".join(notes)
        seen.add(signal_id)
        rows.append(
            [
                outcome.at.strftime("%H:%M"),
                signal_id,
                signal.get("action", "?"),
                signal.get("symbol", "?"),
                signal.get("quantity", "auto"),
                signal.get("confidence", 1.0),
                result,
            ]
        )
    return table("Signals", ["time", "signal", "action", "symbol", "qty", "conf", "result"], rows)


def _orders(services: Services) -> str:
    rows = []
    for record in services.state.orders():
        request = record.request
        average = record.cost / record.filled if record.filled else None
        rows.append(
            [
                request.request_id,
                request.symbol,
                request.side.value,
                request.order_type.value,
                amount(request.quantity),
                money(request.limit_price) if request.limit_price else "",
                record.status.value,
                amount(record.filled),
                money(average) if average is not None else "",
            ]
        )
    headers = ["request", "symbol", "side", "type", "qty", "limit", "status", "filled", "avg price"]
    return table("Orders", headers, rows)


def _fills(services: Services) -> str:
    rows = [
        [
            fill.executed_at.strftime("%H:%M"),
            fill.request_id,
            fill.symbol,
            fill.side.value,
            amount(fill.quantity),
            money(fill.price),
            money(fill.fee, 4),
            fill.liquidity.value,
        ]
        for fill in services.ledger.fills()
    ]
    headers = ["time", "request", "symbol", "side", "qty", "price", "fee", "liquidity"]
    return table("Fills", headers, rows)


def _positions(services: Services) -> str:
    fills = services.ledger.fills()
    rows = []
    for p in services.ledger.positions():
        mark = services.exchanges.for_account(p.account).quote(p.symbol).mid
        own = [
            f
            for f in fills
            if (f.account, f.strategy, f.symbol) == (p.account, p.strategy, p.symbol)
        ]
        recomputed = replay(own, p.account, p.strategy, p.symbol)
        agrees = (recomputed.quantity, recomputed.realized_pnl, recomputed.fees) == (
            p.quantity,
            p.realized_pnl,
            p.fees,
        )
        rows.append(
            [
                f"{p.account}/{p.strategy}",
                p.symbol,
                amount(p.quantity),
                money(p.average_entry) if p.is_open else "",
                money(mark),
                money(p.realized_pnl),
                money(p.unrealized_pnl(mark)),
                money(p.fees),
                money(p.realized_pnl + p.unrealized_pnl(mark) - p.fees),
                "yes" if agrees else "NO",
            ]
        )
    headers = [
        "account/strategy",
        "symbol",
        "qty",
        "avg entry",
        "mark",
        "realized",
        "unrealized",
        "fees",
        "net pnl",
        "= fills",
    ]
    return table(
        "Positions (quote currency USDT; '= fills' recomputes each from its fills)", headers, rows
    )


def _portfolio(services: Services) -> str:
    positions = services.ledger.positions()
    marks = {
        p.symbol: services.exchanges.for_account(p.account).quote(p.symbol).mid for p in positions
    }
    m = portfolio_metrics(positions, marks)
    rows = [
        ["open / closed positions", f"{m.open_positions} / {m.closed_positions}"],
        ["gross exposure", money(m.gross_exposure)],
        ["net exposure", money(m.net_exposure)],
        ["realized pnl", money(m.realized_pnl)],
        ["unrealized pnl", money(m.unrealized_pnl)],
        ["fees", money(m.fees)],
        ["net pnl", money(m.net_pnl)],
    ]
    return table("Portfolio", ["metric", "value"], rows)


def _trades(services: Services) -> str:
    """The metrics of docs/analytics.md over every closed round trip."""
    trips = round_trips(services.ledger.fills())
    s = lifetime_stats(trips)

    def shown(value: Decimal | None, places: int = 2) -> str:
        return "-" if value is None else money(value, places)

    rows = [
        ["trades (wins / losses)", f"{s.trades} ({s.wins} / {s.losses})"],
        ["open round trips", str(sum(trip.is_open for trip in trips))],
        ["win rate", "-" if s.win_rate is None else f"{money(s.win_rate * 100, 1)}%"],
        ["profit factor", shown(s.profit_factor)],
        ["net pnl (gross - fees)", f"{money(s.net_pnl)} ({money(s.gross_pnl)} - {money(s.fees)})"],
        ["expectancy per trade", shown(s.expectancy)],
        ["average win / loss", f"{shown(s.average_win)} / {shown(s.average_loss)}"],
        ["max drawdown", money(s.max_drawdown)],
    ]
    return table(
        "Trades (closed round trips, net of fees: docs/analytics.md)", ["metric", "value"], rows
    )
