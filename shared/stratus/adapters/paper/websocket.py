"""A WebSocket over a request the paper HTTP server already read: the opening handshake
through websockets' sans-I/O protocol, then its threaded connection on the same socket.
So each served paper exchange streams on the port (and host) of its REST API, as ccxt
finds it once STRATUS_EXCHANGE_API_URL moves every URL there."""

from __future__ import annotations

from collections.abc import Mapping
from socket import socket

from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.sync.connection import Connection


def is_upgrade(headers: Mapping[str, str]) -> bool:
    return headers.get("upgrade", "").lower() == "websocket"


def accept(sock: socket, path: str, headers: Mapping[str, str]) -> Connection | None:
    """The WebSocket of an upgrade request (answered 101 here), or None after the 4xx
    its handshake got. The request goes through the protocol as the bytes it was, so
    that its parser moves on to frames."""
    protocol = ServerProtocol()
    lines = [f"GET {path} HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items())]
    protocol.receive_data(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    [request] = protocol.events_received()
    assert isinstance(request, Request)
    response = protocol.accept(request)
    protocol.send_response(response)
    sock.sendall(b"".join(protocol.data_to_send()))
    if response.status_code != 101:
        return None
    return Connection(sock, protocol, ping_interval=None)
