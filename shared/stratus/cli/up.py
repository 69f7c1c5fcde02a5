"""`stratus up`: the manager API and the signal webhook on this machine, embedded default.

Signals posted to /webhook flow through the in-process bus to the same handlers the Cloud
Functions run; the operator console is at /, the API under /api/v1 (OpenAPI at /docs).
"""

from __future__ import annotations

import argparse
import threading
from functools import partial
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from stratus.adapters.local_bus import LocalBus
from stratus.cli.watch import tickers_for
from stratus.config import Environment, Settings
from stratus.local import up as emulator_stack
from stratus.manager.app import create_app
from stratus.observability import configure_logging, trace_from_header, traced
from stratus.scheduling import Scheduler
from stratus.service.bootstrap import build
from stratus.service.handlers import ingest, operations
from stratus.service.http import merge_headers
from stratus.service.services import Services
from stratus.service.watcher import Watcher
from stratus.topology import topology


def register(commands: Any) -> None:
    command = commands.add_parser(
        "up",
        help="serve the manager API and the webhook locally (embedded default)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default %(default)s)"
    )
    command.add_argument("--port", type=int, default=8080, help="port (default %(default)s)")
    emulator_stack.add_arguments(command)
    command.set_defaults(run=run)


def local_app(services: Services) -> FastAPI:
    """The manager app plus the webhook route, for one local process."""
    app = create_app(services)

    @app.post("/webhook", tags=["signals"], status_code=202)
    async def webhook(request: Request) -> JSONResponse:
        trace = trace_from_header(request.headers.get("x-cloud-trace-context"))
        body = await request.body()
        with traced(trace):
            headers = merge_headers(request.headers.items())
            result = ingest.ingest_signal(services, headers, body)
        return JSONResponse(result.body, status_code=result.status, headers=result.headers)

    return app


def deliver_forever(bus: LocalBus, stop: threading.Event, interval: float = 0.05) -> None:
    """Play Pub/Sub's push: keep delivering whatever is published."""
    while not stop.is_set():
        bus.drain()
        stop.wait(interval)


def run(args: argparse.Namespace) -> int:
    if args.emulators:
        return emulator_stack.run(args)
    import uvicorn

    settings = Settings()
    configure_logging(settings.json_logs, settings.gcp_project, settings.log_level)
    services = build(settings)
    stop = threading.Event()
    if isinstance(services.bus, LocalBus):
        worker = threading.Thread(
            target=deliver_forever, args=(services.bus, stop), name="bus", daemon=True
        )
        worker.start()
    # Cloud Scheduler's jobs, from the same topology data, called in process.
    jobs = {
        name: partial(handler, services)
        for name, handler in (
            ("snapshot", operations.snapshot),
            ("reconcile", operations.reconcile),
            ("sweep", operations.sweep),
        )
    }
    scheduler = Scheduler(topology().schedules, jobs).start()
    # The watcher: marks from the paper feed, resting orders followed, balances.
    watcher = threading.Thread(
        target=Watcher(services, tickers_for(services)).run, args=(stop,), name="watcher"
    )
    watcher.start()
    sign_in = ""
    if settings.environment is Environment.LOCAL:  # the only place the dev token exists
        sign_in = f" (sign in with {settings.manager_dev_token.get_secret_value()})"
    print(f"console at http://{args.host}:{args.port}/{sign_in}", flush=True)
    try:
        uvicorn.run(
            local_app(services),
            host=args.host,
            port=args.port,
            log_level=settings.log_level.lower(),
        )
    finally:
        scheduler.stop()
        stop.set()
        watcher.join(timeout=5)
    return 0
