"""`stratus watch`: the watcher (docs/live.md) until Ctrl-C or SIGTERM.

Marks of every held or worked symbol, resting orders followed to their fills, balances
refreshed, all published on the bus (STRATUS_BUS=pubsub: the embedded bus is one
process's, so `stratus up` runs the watcher itself). Deployed as the always-on Cloud Run
service `stratus-watcher`: it answers GET /live and /ready on $PORT (or --port).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

from stratus.config import Settings
from stratus.observability import configure_logging
from stratus.ports import Tickers
from stratus.service.bootstrap import build
from stratus.service.services import Services
from stratus.service.watcher import Watcher


def register(commands: Any) -> None:
    command = commands.add_parser(
        "watch",
        help="keep marks, resting orders and balances fresh between the schedules",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "0")),
        help="serve /live and /ready here (default $PORT; 0: not at all)",
    )
    command.set_defaults(run=run)


def tickers_for(services: Services) -> Tickers:
    """Streamed over the exchanges' WebSocket APIs (ccxt.pro); the paper venue is asked."""
    if services.settings.exchange == "ccxt":
        from stratus.adapters.streamed_tickers import StreamedTickers

        return StreamedTickers(services.settings, services.accounts, services.clock)
    from stratus.adapters.polled_tickers import PolledTickers

    return PolledTickers(services.exchanges, services.clock)


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    configure_logging(settings.json_logs, settings.gcp_project, settings.log_level)
    services = build(settings)
    watcher = Watcher(services, tickers_for(services))
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    server = _health(watcher, args.port) if args.port else None
    try:
        watcher.run(stop)
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.shutdown()
    return 0


def _health(watcher: Watcher, port: int) -> ThreadingHTTPServer:
    """/live: the process runs; /ready: it has followed orders at least once."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ready = watcher.rounds > 0
            status = {"/live": 200, "/ready": 200 if ready else 503}.get(self.path, 404)
            body = json.dumps({"rounds": watcher.rounds, "last_error": watcher.last_error})
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server
