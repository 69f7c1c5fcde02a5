"""A paper exchange API (Bybit v5, Binance futures) on a background HTTP server on this
machine, for the tests and the emulator stack, and the command line that serves one."""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

from websockets.sync.connection import Connection

from stratus.adapters.clock import SystemClock
from stratus.adapters.paper import websocket
from stratus.adapters.paper.exchange import PaperExchange
from stratus.adapters.paper.feed import PriceFeed
from stratus.adapters.paper.memory_store import MemoryVenueStore
from stratus.adapters.paper.venue_api import Account, Faults
from stratus.ports import Clock, PaperVenueStore


class PaperApi(Protocol):
    faults: Faults

    def handle(
        self, method: str, target: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, Any]: ...

    def stream(self, path: str, connection: Connection) -> None:
        """Serve one WebSocket until it closes (the exchange's public streams)."""
        ...


A = TypeVar("A", bound=PaperApi)


class Served(Generic[A]):
    """`app` on a background HTTP server; `url` is what ccxt should call."""

    def __init__(self, app: A, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._server = ThreadingHTTPServer((host, port), _handler(app))
        self._server.daemon_threads = True
        bound_host, bound_port = self._server.server_address[:2]
        self.url = f"http://{bound_host!s}:{bound_port}"
        self._thread = threading.Thread(
            # a short poll: shutdown() waits for it (the default 0.5 s, per server closed)
            target=self._server.serve_forever,
            args=(0.05,),
            name=f"paper-{type(app).__name__}",
            daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        self.app.faults.released.set()  # wake any stalled response
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> Served[A]:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _handler(app: PaperApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as requests' session expects
        disable_nagle_algorithm = True  # headers and body go out apart: no 40 ms stalls

        def do_GET(self) -> None:
            headers = {key.lower(): value for key, value in self.headers.items()}
            if not websocket.is_upgrade(headers):
                self._reply()
                return
            self.close_connection = True  # the socket is the WebSocket's from now on
            connection = websocket.accept(self.connection, self.path, headers)
            if connection is not None:
                try:
                    app.stream(self.path, connection)
                finally:
                    connection.close()

        def do_POST(self) -> None:
            self._reply()

        def do_DELETE(self) -> None:
            self._reply()

        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, payload = app.handle(self.command, self.path, body, headers)
            data = json.dumps(payload, separators=(",", ":")).encode()  # compact, as served
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to answer

        def log_message(self, format: str, *args: Any) -> None:
            pass  # requests are recorded in app.requests instead

    return Handler


def paper_accounts(
    credentials: Mapping[str, str],
    clock: Clock,
    feed: PriceFeed | None = None,
    store: PaperVenueStore | None = None,
) -> dict[str, Account]:
    """One paper venue per API key (key -> secret), all on one price feed, kept in `store`
    under the key (default: in this process' memory)."""
    feed = feed or PriceFeed.default()
    store = store if store is not None else MemoryVenueStore()
    return {
        key: Account(secret, PaperExchange(feed, clock, store=store, account=key))
        for key, secret in credentials.items()
    }


def serve(
    argv: Sequence[str] | None,
    description: str,
    port: int,
    name: str,
    make_app: Callable[[Mapping[str, Account]], PaperApi],
) -> int:
    """The command line of a served paper exchange: serve until Ctrl-C.

    Prices are the packaged feed at wall-clock time (looping past its end), as on
    `stratus up`; the accounts live in a SQL database, so a restart keeps them."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--api-key", default="paper-key")
    parser.add_argument("--secret", default="paper-secret")
    parser.add_argument(
        "--database",
        default=f"sqlite:///.stratus/paper-{name}.db",
        help="SQLAlchemy URL keeping the accounts across restarts (default %(default)s; "
        "sqlite:// keeps them in memory)",
    )
    args = parser.parse_args(argv)
    from stratus.adapters.sql.db import Database
    from stratus.adapters.sql.paper_venues import SqlVenueStore

    clock = SystemClock()
    store = SqlVenueStore(Database.from_url(args.database), clock)
    app = make_app(paper_accounts({args.api_key: args.secret}, clock, store=store))
    served = Served(app, args.host, args.port)
    print(f"{description} at {served.url} (api key {args.api_key})", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        served.close()
    return 0
