"""The local stack on Google's emulators: what `stratus up --emulators` and the emulator
tests start, and stop again without leaving a process behind.

Pub/Sub emulator -> push relay -> one functions-framework server per function, state in
the Firestore emulator (or SQL), the system of record in PostgreSQL (or a SQLite file),
the manager API, the watcher, and a local scheduler playing the topology's schedules.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from stratus.local import emulators
from stratus.local.processes import Process, StackError, free_port, wait_for_http, wait_for_port
from stratus.local.provision import MANAGER, provision, subscription_name
from stratus.local.relay import PushRelay, Route
from stratus.local.scheduler import http_scheduler
from stratus.local.supervisor import Supervisor
from stratus.topology import RetryPolicy, Topology, topology

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[3]


@dataclass
class StackConfig:
    project: str = "stratus-local"
    base_port: int | None = None  # None: free ports chosen by the OS
    database_url: str = "sqlite:///.stratus/emulators.db"
    state: str = "firestore"  # or "sql"
    logs: Path = Path(".stratus/logs")
    retry: RetryPolicy | None = None  # None: the topology's
    sources: dict[str, Path] = field(default_factory=dict)  # function -> source override
    manager: bool = True
    scheduler: bool = True
    watcher: bool = True  # `stratus watch`: marks, resting orders, balances
    env: dict[str, str] = field(default_factory=dict)  # extra STRATUS_* for every process

    def port(self, offset: int) -> int:
        return free_port() if self.base_port is None else self.base_port + offset


@dataclass
class Endpoints:
    pubsub: str = ""  # host:port, as PUBSUB_EMULATOR_HOST
    firestore: str = ""
    functions: dict[str, str] = field(default_factory=dict)  # name -> base URL
    manager: str = ""


class Stack:
    def __init__(self, config: StackConfig, topo: Topology | None = None) -> None:
        self.config = config
        self.topology = topo or topology()
        self.retry = config.retry or self.topology.retry
        self.endpoints = Endpoints()
        self.processes: dict[str, Process] = {}
        self.supervisor: Supervisor | None = None  # restarts dead servers once all are up
        self._exit = ExitStack()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> Self:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop everything started, newest first; safe to call twice."""
        if self.supervisor is not None:
            self.supervisor.stop()  # nothing is started again from here on
        for process in self.processes.values():
            process.terminate()  # all at once: each then exits within its own grace time
        self._exit.close()

    def kill(self, name: str, keep_down_seconds: float = 0.0) -> None:
        """SIGKILL a server's whole process group, as when its instance dies; the
        supervisor starts it again, not before `keep_down_seconds`."""
        if self.supervisor is not None and keep_down_seconds:
            self.supervisor.keep_down(name, keep_down_seconds)
        self.processes[name].kill()

    def env(self) -> dict[str, str]:
        """The environment every child gets (and tests can use to build Services)."""
        config = self.config
        return {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "PUBSUB_EMULATOR_HOST": self.endpoints.pubsub,
            "FIRESTORE_EMULATOR_HOST": self.endpoints.firestore,
            "GOOGLE_CLOUD_PROJECT": config.project,
            "STRATUS_GCP_PROJECT": config.project,
            "STRATUS_BUS": "pubsub",
            "STRATUS_STATE": config.state,
            "STRATUS_DATABASE_URL": config.database_url,
            # The sweep closes a pending order once no copy of its message can come.
            "STRATUS_DELIVERY_WINDOW_SECONDS": str(int(self.retry.delivery_window.total_seconds())),
            **config.env,
        }

    def _start(self) -> None:
        config = self.config
        logs = config.logs.resolve()
        pubsub_port, firestore_port = config.port(0), config.port(1)
        self.endpoints.pubsub = f"127.0.0.1:{pubsub_port}"
        self.endpoints.firestore = f"127.0.0.1:{firestore_port}"
        # Emulators from a clean environment: an inherited *_EMULATOR_HOST confuses gcloud.
        clean = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")}
        self._own(emulators.pubsub(pubsub_port, logs, clean))
        if config.state == "firestore":
            self._own(emulators.firestore(firestore_port, logs, clean))
        self._point_clients_here()
        migrate(config.database_url)
        ports = {name: config.port(10 + i) for i, name in enumerate(self.topology.functions)}
        manager_port = config.port(3)
        relay = self._relay(config.port(2), ports, manager_port if config.manager else None)
        provision(config.project, self.topology, relay.endpoint, self.retry, config.manager)
        started = [self._function(name, port, logs) for name, port in ports.items()]
        if config.manager:
            started.append((self._manager(manager_port, logs), manager_port))
        for process, port in started:
            wait_for_port(port, process)
        if config.manager:
            wait_for_http(f"{self.endpoints.manager}/live", self.processes["manager"])
        servers = {process.name: process for process, _ in started}
        self.supervisor = Supervisor(servers).start()
        if config.scheduler:
            scheduler = http_scheduler(self.topology.schedules, self.endpoints.functions)
            self._exit.callback(scheduler.start().stop)
        if config.watcher:
            argv = [sys.executable, "-m", "stratus.cli", "watch"]
            self._own(Process("watcher", argv, self.env(), logs / "watcher.log").start())

    def _point_clients_here(self) -> None:
        """This process' Google clients (provisioning, relay, tests) use the emulators."""
        hosts = {
            "PUBSUB_EMULATOR_HOST": self.endpoints.pubsub,
            "FIRESTORE_EMULATOR_HOST": self.endpoints.firestore,
        }
        before = {name: os.environ.get(name) for name in hosts}
        os.environ.update(hosts)

        def restore() -> None:
            for name, value in before.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

        self._exit.callback(restore)

    def _own(self, process: Process) -> Process:
        self.processes[process.name] = process
        self._exit.callback(process.stop)
        return process

    def _relay(self, port: int, ports: dict[str, int], manager_port: int | None) -> PushRelay:
        from stratus.adapters.pubsub_bus import PubSubBus
        from stratus.config import Settings

        # A function of one topic gives up to its dead-letter topic; one that hears many
        # to each message's own ("": the relay derives it from the push path).
        routes = {
            name: Route(
                name,
                ports[name],
                subscription_name(topic or "{topic}", name),
                self.topology.dead_letter_topic(topic) if topic else "",
            )
            for name, fn in self.topology.functions.items()
            if self.topology.triggers(name)
            for topic in [fn.trigger.topic]
        }
        if manager_port is not None:
            # The manager's recorder: the relay plays the OIDC token Pub/Sub sends in
            # production with the local admin token.
            token = Settings().manager_dev_token.get_secret_value()
            routes[MANAGER] = Route(
                MANAGER,
                manager_port,
                subscription=subscription_name("{topic}", MANAGER),
                dead_letter_topic="",
                headers={"Authorization": f"Bearer {token}"},
                path="/api/v1/pubsub/{topic}",
            )
        bus = PubSubBus(self.config.project)
        relay = PushRelay(port, self.config.project, routes, self.retry, bus.publish)
        self._exit.callback(relay.stop)
        return relay.start()

    def _function(self, name: str, port: int, logs: Path) -> tuple[Process, int]:
        source = self.config.sources.get(name, REPO / "functions" / "main.py")
        argv = [
            _executable("functions-framework"),
            "--target",
            name,
            "--source",
            str(source),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        if not source.is_file():
            raise StackError(f"no function source at {source} (run from the repository root)")
        self.endpoints.functions[name] = f"http://127.0.0.1:{port}"
        env = {**self.env(), "K_SERVICE": name.replace("_", "-")}
        process = self._own(Process(name, argv, env, logs / f"{name}.log", cwd=REPO).start())
        return process, port

    def _manager(self, port: int, logs: Path) -> Process:
        argv = [
            sys.executable,
            "-m",
            "uvicorn",
            "stratus.manager.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        self.endpoints.manager = f"http://127.0.0.1:{port}"
        return self._own(Process("manager", argv, self.env(), logs / "manager.log").start())


def migrate(database_url: str) -> None:
    """Bring the system of record to the head migration once, before any server starts
    (several processes migrating one database at once would race)."""
    from stratus import migrations
    from stratus.adapters.sql.db import make_engine

    engine = make_engine(database_url)
    try:
        migrations.upgrade(engine)
    finally:
        engine.dispose()


def _executable(name: str) -> str:
    """A console script of this virtualenv (the one running the stack)."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    raise StackError(f"{name} is not installed in {sys.prefix}: pip install -e '.[dev]'")
