"""The WebSocket streams, the console's pages and the offline API docs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from starlette.websockets import WebSocketDisconnect

from stratus.adapters.sql.tokens import Role
from stratus.contracts import codec
from stratus.domain.market import Mark, Marks
from stratus.manager import live
from stratus.manager.console.pages import PAGES
from stratus.ports import Envelope
from tests.integration.console.conftest import ADMIN, Up, signal

TOKEN = ADMIN["Authorization"].removeprefix("Bearer ")


def test_positions_stream_a_snapshot_then_updates_and_closes(up: Up) -> None:
    up.webhook(signal("s-1"))
    with up.client.websocket_connect(f"/ws/positions?token={TOKEN}") as socket:
        first = socket.receive_json()
        assert first["type"] == "snapshot"
        assert first["truncated"] is False
        [held] = first["positions"]
        assert (held["symbol"], held["quantity"]) == ("BTC/USDT:USDT", "0.01")
        assert {"mark_price", "unrealized_pnl", "average_entry", "fees"} <= set(held)
        up.webhook(signal("s-2", symbol="ETH/USDT:USDT", action="sell", quantity="2"))
        update = socket.receive_json()
        assert update["type"] == "update"
        assert update["position"]["symbol"] == "ETH/USDT:USDT"
        assert Decimal(update["position"]["quantity"]) == -2
        up.webhook(signal("s-3", symbol="ETH/USDT:USDT", action="close", quantity=None))
        closed = socket.receive_json()
        assert closed["type"] == "close"
        assert Decimal(closed["position"]["quantity"]) == 0


def test_activity_streams_orders_fills_and_signal_outcomes(up: Up) -> None:
    with up.client.websocket_connect(f"/ws/activity?token={TOKEN}") as socket:
        up.webhook(signal("act-1"))
        up.webhook(signal("act-2", quantity="-1"))
        kinds = [socket.receive_json() for _ in range(4)]
    by_type = {message["type"]: message for message in kinds}
    assert by_type["order"]["order"]["signal_id"] == "act-1"
    assert by_type["fill"]["fill"]["request_id"] == "act-1-0"
    outcomes = [m["signal"] for m in kinds if m["type"] == "signal"]
    assert [(o["signal_id"], o["status"]) for o in outcomes] == [
        ("act-1", "accepted"),
        ("act-2", "refused"),
    ]


def test_a_quiet_stream_sends_heartbeats(up: Up, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.05)
    with up.client.websocket_connect(f"/ws/activity?token={TOKEN}") as socket:
        assert socket.receive_json()["type"] == "heartbeat"


@pytest.mark.parametrize("token", ["", "stx_wrong", "not-a-token"])
def test_a_bad_token_gets_an_error_and_a_final_close(up: Up, token: str) -> None:
    with up.client.websocket_connect(f"/ws/positions?token={token}") as socket:
        assert socket.receive_json() == {
            "type": "error",
            "error": "unauthenticated",
            "detail": "a valid token is required",
        }
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert closed.value.code == 4401


def test_a_reader_may_watch(up: Up) -> None:
    token = up.token(Role.READER)["Authorization"].removeprefix("Bearer ")
    with up.client.websocket_connect(f"/ws/positions?token={token}") as socket:
        assert socket.receive_json()["type"] == "snapshot"


def test_pages_are_shells_and_fragments_need_a_token(up: Up) -> None:
    up.webhook(signal("page-1"))
    for path, name, _title in PAGES:
        shell = up.client.get(path)
        assert shell.status_code == 200
        assert f'data-page="{name}"' in shell.text
        assert "page-1" not in shell.text  # no data without a token
        assert up.client.get(f"/console/{name}").status_code == 401
        fragment = up.client.get(f"/console/{name}", headers=ADMIN)
        assert fragment.status_code == 200, (name, fragment.text)
    assert "page-1" in up.client.get("/console/signals", headers=ADMIN).text


def test_admin_fragments_are_for_admins_only(up: Up) -> None:
    reader = up.token(Role.READER)
    assert up.client.get("/console/admin", headers=reader).status_code == 403
    assert up.client.get("/console/overview", headers=reader).status_code == 200
    me = up.client.get("/api/v1/me", headers=reader).json()
    assert me == {"name": "token:test-reader", "role": "reader"}


def test_the_api_docs_need_no_cdn(up: Up) -> None:
    for path in ("/docs", "/redoc"):
        page = up.client.get(path)
        assert page.status_code == 200
        assert "/static/vendor/" in page.text
        assert "cdn" not in page.text
        assert "fonts.googleapis" not in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        assert up.client.get(f"/static/vendor/{asset}").status_code == 200


def test_marks_reach_the_positions_stream() -> None:
    marks = Marks(
        exchange="paper",
        marks=[
            Mark(
                symbol="BTC/USDT:USDT", price=Decimal("100.5"), at=datetime(2026, 1, 5, tzinfo=UTC)
            )
        ],
    )
    envelope = Envelope("1", "marks", codec.encode("marks", marks), {}, datetime.now(UTC))
    assert live.message_of(envelope) == (
        "positions",
        {
            "type": "marks",
            "marks": [{"symbol": "BTC/USDT:USDT", "price": "100.5", "at": "2026-01-05T00:00:00Z"}],
        },
    )


def test_the_pnl_page_shows_trade_metrics_and_trades(up: Up) -> None:
    up.webhook(signal("rt-1"))
    up.webhook(signal("rt-2", action="close", quantity=None))
    page = up.client.get("/console/pnl", headers=ADMIN).text
    assert 'id="trade-metrics"' in page
    assert "trades (wins / losses)</th><td>1 (" in page
    summary = up.client.get("/api/v1/analytics/summary", headers=ADMIN).json()
    assert summary["trades"] == 1
    [trade] = up.client.get("/api/v1/analytics/trades", headers=ADMIN).json()["items"]
    assert trade["id"] in page
    assert trade["status"] == "closed"
