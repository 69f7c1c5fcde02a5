"""The stack's own promises: clear errors, scheduled jobs, and nothing left behind."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.conftest import unavailable

from stratus.local.emulators import INSTALL_HINT
from stratus.local.processes import StackError, ensure_free, free_range, wait_for_http
from stratus.local.scheduler import http_scheduler
from stratus.local.stack import Stack
from stratus.topology import topology


def test_a_taken_port_is_refused_with_what_to_do() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StackError, match=f"port {port} for the Pub/Sub emulator is already"):
            ensure_free(port, "the Pub/Sub emulator")


def test_the_scheduler_calls_the_functions_like_cloud_scheduler(stack: Stack) -> None:
    scheduler = http_scheduler(topology().schedules, stack.endpoints.functions)
    at = datetime(2026, 1, 5, 10, 30, tzinfo=UTC)
    fired = scheduler.fire_due(at - timedelta(minutes=1), at)
    assert fired == [
        ("reconcile-every-5-min", at, 200),
        ("snapshot-every-15-min", at, 201),
        ("sweep-every-minute", at, 200),
    ]
    again = scheduler.fire_due(at - timedelta(minutes=1), at)
    assert again[1] == ("snapshot-every-15-min", at, 200)  # one snapshot per schedule time


def test_a_killed_manager_is_started_again(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="stratus.local.supervisor")
    manager = stack.processes["manager"]
    before = manager.pid
    assert before is not None

    os.killpg(before, signal.SIGKILL)
    _eventually(lambda: manager.pid != before, 10)
    wait_for_http(f"{stack.endpoints.manager}/live", manager, timeout_seconds=30)

    said = [r.getMessage() for r in caplog.records if r.name == "stratus.local.supervisor"]
    assert said[0].startswith("manager killed by SIGKILL after")
    assert said[1].startswith("manager started again (pid")


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _group_serving(port: int) -> int | None:
    """The process group of the server started with `--port <port>` (from /proc); None
    while there is none (a dying process reads as no command line)."""
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--port" in argv and argv[argv.index(b"--port") + 1 :][:1] == [str(port).encode()]:
            with contextlib.suppress(ProcessLookupError):  # it died meanwhile
                return os.getpgid(int(entry.name))
    return None


def _eventually(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not reached in {seconds} s"
        time.sleep(0.1)


def test_stratus_up_restarts_a_killed_server_and_ctrl_c_stops_everything(
    tmp_path: Path,
) -> None:
    if shutil.which("gcloud") is None:
        unavailable("gcloud with the Pub/Sub and Firestore emulators", INSTALL_HINT)
    base = free_range(20)
    command = [
        str(Path(sys.executable).parent / "stratus"), "up", "--emulators",
        "--base-port", str(base), "--database-url", f"sqlite:///{tmp_path}/stack.db",
        "--logs", str(tmp_path / "logs"),
    ]  # fmt: skip
    up = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert up.stdout is not None
        said = []
        for line in up.stdout:  # pytest-timeout bounds this if it hangs
            said.append(line)
            if "Ctrl-C stops everything" in line:
                break
        else:
            pytest.fail("stratus up --emulators exited before it was ready:\n" + "".join(said))
        functions = {name: base + 10 + i for i, name in enumerate(topology().functions)}
        ports = [base, base + 1, base + 2, base + 3, *functions.values()]
        assert all(_listening(port) for port in ports)

        # execute_order's whole server dies.
        executor = functions["execute_order"]
        group = _group_serving(executor)
        assert group is not None
        os.killpg(group, signal.SIGKILL)
        _eventually(
            lambda: _listening(executor) and _group_serving(executor) not in (None, group), 30
        )
        restarted = _group_serving(executor)
        assert restarted is not None

        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=60) == 0

        output = up.stdout.read()
        assert "execute_order killed by SIGKILL" in output
        assert "execute_order started again" in output
        assert [port for port in ports if _listening(port)] == []
        with pytest.raises(ProcessLookupError):
            os.killpg(restarted, 0)  # the new instance was stopped too
    finally:
        # Its children run in sessions of their own: only its Ctrl-C handling stops them.
        if up.poll() is None:
            up.send_signal(signal.SIGINT)
            try:
                up.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(up.pid, signal.SIGKILL)
