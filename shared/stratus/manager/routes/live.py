"""WebSocket streams of the console: /ws/positions and /ws/activity (stratus.manager.live).

Browsers cannot put headers on a WebSocket, so the bearer token comes as `?token=`. A
refused token gets an `error` message and close code 4401 (4403 for a missing role):
the client must not reconnect with it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from stratus.adapters.sql.portfolio import PositionFilter
from stratus.adapters.sql.tokens import Role
from stratus.manager.auth import Authenticator
from stratus.manager.live import Hub, Listener, Message, error, now_iso
from stratus.manager.store import Store

router = APIRouter(tags=["live"])

SNAPSHOT_LIMIT = 1000  # open positions sent on connect; more is flagged "truncated"
UNAUTHENTICATED, FORBIDDEN, LAGGING = 4401, 4403, 4408


@router.websocket("/ws/positions")
async def positions(websocket: WebSocket, token: str = "") -> None:
    """A `snapshot` of the open positions, then `update`/`close` per change."""
    await _serve(websocket, token, "positions")


@router.websocket("/ws/activity")
async def activity(websocket: WebSocket, token: str = "") -> None:
    """Orders approved for the exchange, fills and signal outcomes as they happen."""
    await _serve(websocket, token, "activity")


async def _serve(websocket: WebSocket, token: str, stream: str) -> None:
    await websocket.accept()
    authenticator: Authenticator = websocket.app.state.authenticator
    principal = await run_in_threadpool(authenticator.principal, f"Bearer {token}")
    if principal is None:
        await _refuse(websocket, UNAUTHENTICATED, "unauthenticated", "a valid token is required")
        return
    if not principal.allows(Role.READER):
        await _refuse(websocket, FORBIDDEN, "forbidden", "needs the reader role")
        return
    hub: Hub = websocket.app.state.hub
    listener = await hub.join(stream)
    try:
        if stream == "positions":
            await websocket.send_json(await run_in_threadpool(snapshot, websocket.app.state.store))
        await _pump(websocket, listener)
    finally:
        hub.leave(listener)


async def _refuse(websocket: WebSocket, code: int, reason: str, detail: str) -> None:
    await websocket.send_json(error(reason, detail))
    await websocket.close(code=code, reason=reason)


async def _pump(websocket: WebSocket, listener: Listener) -> None:
    """Send until the client leaves; whatever it sends is ignored."""
    reader = asyncio.ensure_future(_drain(websocket))
    try:
        while not reader.done():
            sender = asyncio.ensure_future(listener.next())
            await asyncio.wait({reader, sender}, return_when=asyncio.FIRST_COMPLETED)
            if not sender.done():
                sender.cancel()
                break
            if listener.lagging:
                detail = "this client fell behind; reconnect for a fresh snapshot"
                await _refuse(websocket, LAGGING, "lagging", detail)
                break
            await websocket.send_json(sender.result())
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client went away mid-send
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await reader


async def _drain(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return


def snapshot(store: Store) -> Message:
    """The open positions at their stored marks (entry price, and no mark time, where
    none)."""
    tracked, _ = store.portfolio.tracked(PositionFilter(status="open"))
    shown = tracked[:SNAPSHOT_LIMIT]
    marks = store.portfolio.dated_marks({item.position.symbol for item in shown})
    items: list[dict[str, Any]] = []
    for item in shown:
        position = item.position
        found = marks.get(position.symbol)
        mark = position.average_entry if found is None else found.price
        items.append(
            {
                **position.model_dump(mode="json"),
                "mark_price": str(mark),
                "mark_time": None if found is None else found.at.isoformat(),
                "unrealized_pnl": str(position.unrealized_pnl(mark)),
            }
        )
    return {
        "type": "snapshot",
        "at": now_iso(),
        "positions": items,
        "truncated": len(tracked) > SNAPSHOT_LIMIT,
    }
