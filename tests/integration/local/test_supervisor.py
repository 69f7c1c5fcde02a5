"""A server of the local stack that dies as a whole process group is started again, as
Cloud Run starts a new instance; one that keeps dying at start-up is started less often."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stratus.local.processes import Process
from stratus.local.supervisor import Supervisor

# A server with a child in its group, as gunicorn's master and worker.
SERVER = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"  # noqa: E501


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Callable[[str], tuple[Process, Supervisor]]]:
    running: list[tuple[Process, Supervisor]] = []

    def start(code: str) -> tuple[Process, Supervisor]:
        process = Process("server", [sys.executable, "-c", code], {}, tmp_path / "server.log")
        supervisor = Supervisor({"server": process.start()}, poll_seconds=0.05).start()
        running.append((process, supervisor))
        return process, supervisor

    yield start
    for process, supervisor in running:
        supervisor.stop()
        process.stop(grace_seconds=1)


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not reached"
        time.sleep(0.02)


def test_a_killed_process_group_is_started_again_with_a_log_line(
    started: Callable[[str], tuple[Process, Supervisor]], caplog: pytest.LogCaptureFixture
) -> None:
    process, _ = started(SERVER)
    first = process.pid
    assert first is not None
    caplog.set_level(logging.WARNING, logger="stratus.local.supervisor")

    os.killpg(first, signal.SIGKILL)
    wait_for(lambda: process.pid != first and process.running())

    messages = [record.getMessage() for record in caplog.records]
    assert messages[0].startswith("server killed by SIGKILL after 0 s; starting a new instance")
    assert (
        messages[1]
        == f"server started again (pid {process.pid}), as Cloud Run starts a new instance"
    )
    with pytest.raises(ProcessLookupError):
        os.killpg(first, 0)  # nothing of the old group is left


def test_a_process_kept_down_is_started_again_only_after_the_outage(
    started: Callable[[str], tuple[Process, Supervisor]],
) -> None:
    process, supervisor = started(SERVER)
    supervisor.keep_down("server", 1.0)
    killed_at = time.monotonic()
    process.kill()
    wait_for(lambda: not process.running())

    wait_for(process.running)
    assert time.monotonic() - killed_at >= 1.0


def test_a_process_that_keeps_dying_at_start_up_is_restarted_less_and_less_often(
    started: Callable[[str], tuple[Process, Supervisor]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="stratus.local.supervisor")
    started("raise SystemExit(3)")

    wait_for(lambda: any("in 2 s" in r.getMessage() for r in caplog.records), seconds=10)

    deaths = [r.getMessage() for r in caplog.records if "exited with status 3" in r.getMessage()]
    assert deaths[0].endswith("starting a new instance")  # the first restart is immediate
    assert deaths[1].endswith("in 1 s (it keeps dying at start-up)")
    assert deaths[2].endswith("in 2 s (it keeps dying at start-up)")
