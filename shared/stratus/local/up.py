"""`stratus up --emulators`: the local stack on Google's emulators until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from stratus.local.processes import StackError
from stratus.local.stack import Stack, StackConfig

DEFAULT_BASE_PORT = 8600


def add_arguments(command: Any) -> None:
    group = command.add_argument_group("emulator stack (with --emulators)")
    group.add_argument(
        "--emulators",
        action="store_true",
        help="run on the Pub/Sub and Firestore emulators: one functions-framework server "
        "per function (started again if it dies, as Cloud Run does), the manager, push "
        "subscriptions delivering with the retry policy, and schedules from topology.yaml",
    )
    group.add_argument(
        "--base-port",
        type=int,
        default=DEFAULT_BASE_PORT,
        help="Pub/Sub emulator on this port, Firestore +1, push relay +2, manager +3, "
        "functions +10.. (default %(default)s)",
    )
    group.add_argument(
        "--database-url",
        default="sqlite:///.stratus/emulators.db",
        help="system of record, e.g. postgresql://postgres@127.0.0.1:5432/stratus "
        "(default %(default)s)",
    )
    group.add_argument("--project", default="stratus-local", help="emulated project id")
    group.add_argument("--state", choices=("firestore", "sql"), default="firestore")
    group.add_argument("--logs", type=Path, default=Path(".stratus/logs"))


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = StackConfig(
        project=args.project,
        base_port=args.base_port,
        database_url=args.database_url,
        state=args.state,
        logs=args.logs,
    )
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, request_stop)
    stack = Stack(config)
    try:
        stack.start()
        print(describe(stack), flush=True)
        # Ctrl-C raises KeyboardInterrupt out of here; SIGTERM sets stop. Wake up now and
        # then: a signal that lands on another thread only runs its Python handler once the
        # main thread is back in the interpreter, never while it blocks without a timeout.
        while not stop.wait(0.2):
            pass
    except StackError as error:
        print(f"stratus up --emulators: {error}")
        return 2
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the clean-up short and orphan the emulators.
        interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.stop()
        signal.signal(signal.SIGINT, interrupt)
        signal.signal(signal.SIGTERM, previous)
    print("stopped: every process of the stack has exited", flush=True)
    return 0


def _dev_token() -> str:
    from stratus.config import Settings

    return Settings().manager_dev_token.get_secret_value()


def describe(stack: Stack) -> str:
    ends = stack.endpoints
    lines = [
        f"Pub/Sub emulator   PUBSUB_EMULATOR_HOST={ends.pubsub}",
        f"Firestore emulator FIRESTORE_EMULATOR_HOST={ends.firestore}",
        f"console            {ends.manager}/  (sign in with {_dev_token()})",
        f"manager API        {ends.manager}/docs",
        *(f"{name:<18} {url}" for name, url in ends.functions.items()),
        f"logs               {stack.config.logs.resolve()}",
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)
