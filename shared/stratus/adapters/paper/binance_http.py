"""Serve the paper Binance USDⓈ-M futures API over HTTP on this machine (tests, the
emulator stack).

    python -m stratus.adapters.paper.binance_http --port 8902 --api-key k --secret s

then run Stratus with STRATUS_EXCHANGE=ccxt, STRATUS_EXCHANGE_API_URL=http://127.0.0.1:8902
and an account naming binance with that key and secret.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from stratus.adapters.paper.binance_server import BinanceFutures
from stratus.adapters.paper.bybit_http import FeedClock
from stratus.adapters.paper.bybit_server import Account
from stratus.adapters.paper.exchange import PaperExchange
from stratus.adapters.paper.feed import PriceFeed
from stratus.ports import Clock


class ServedBinance:
    """A BinanceFutures app on a background HTTP server; `url` is what ccxt should call."""

    def __init__(self, app: BinanceFutures, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._server = ThreadingHTTPServer((host, port), _handler(app))
        self._server.daemon_threads = True
        bound_host, bound_port = self._server.server_address[:2]
        self.url = f"http://{bound_host!s}:{bound_port}"
        self._thread = threading.Thread(
            # a short poll: shutdown() waits for it (the default 0.5 s, per server closed)
            target=self._server.serve_forever,
            args=(0.05,),
            name="paper-binance",
            daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        self.app.faults.released.set()  # wake any stalled response
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> ServedBinance:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _handler(app: BinanceFutures) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as requests' session expects
        disable_nagle_algorithm = True  # headers and body go out apart: no 40 ms stalls

        def do_GET(self) -> None:
            self._reply()

        def do_POST(self) -> None:
            self._reply()

        def do_DELETE(self) -> None:
            self._reply()

        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, payload = app.handle(self.command, self.path, body, headers)
            data = json.dumps(payload, separators=(",", ":")).encode()  # compact, as Binance
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


def paper_binance(
    credentials: Mapping[str, str], clock: Clock, feed: PriceFeed | None = None, **options: Any
) -> BinanceFutures:
    """A BinanceFutures app with one fresh paper venue per API key (key -> secret)."""
    feed = feed or PriceFeed.default()
    accounts = {
        key: Account(secret, PaperExchange(feed, clock)) for key, secret in credentials.items()
    }
    return BinanceFutures(accounts, **options)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8902)
    parser.add_argument("--api-key", default="paper-key")
    parser.add_argument("--secret", default="paper-secret")
    parser.add_argument("--speed", type=float, default=1.0, help="feed seconds per second")
    args = parser.parse_args(argv)
    feed = PriceFeed.default()
    app = paper_binance({args.api_key: args.secret}, FeedClock(feed, args.speed), feed)
    served = ServedBinance(app, args.host, args.port)
    print(f"paper Binance USDⓈ-M futures at {served.url} (api key {args.api_key})", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        served.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
