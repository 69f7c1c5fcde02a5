"""Child processes of the local stack: each in its own process group, stopped as a group.

The gcloud emulator wrappers start a Java child that outlives a killed wrapper, so every
process is started in a new session and stopped by signalling its whole group.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


class StackError(RuntimeError):
    """The local stack cannot start; the message says what to do about it."""


# Ports for the stack's servers come from below the kernels' ephemeral ranges (Linux
# 32768-60999, macOS 49152-65535): a port the OS would pick for bind(0) may be handed to
# any outgoing connection before a server that takes seconds to start (the Java
# emulators) binds it; seen as a Firestore emulator dying on start-up.
PORTS = range(20000, 32000)


def free_port() -> int:
    """A port nothing listens on right now, outside the ephemeral range."""
    return free_range(1)


def free_range(size: int) -> int:
    """The first of `size` consecutive ports nothing listens on right now."""
    for _ in range(200):
        base = random.randrange(PORTS.start, PORTS.stop - size)
        try:
            for port in range(base, base + size):
                ensure_free(port, "a local server")
        except StackError:
            continue
        return base
    raise StackError(f"no {size} free consecutive ports in {PORTS.start}-{PORTS.stop - 1}")


def ensure_free(port: int, what: str) -> None:
    """Fail early with a clear message instead of a child dying on a taken port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            raise StackError(
                f"port {port} for {what} is already in use: stop whatever listens there "
                f"(`lsof -i :{port}`) or choose other ports (--base-port)"
            ) from None


@dataclass
class Process:
    """One child process, logging to a file, started in its own process group."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    log_path: Path
    cwd: Path | None = None
    started_at: float = 0.0  # time.monotonic() of the latest start
    _popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> Process:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.started_at = time.monotonic()
        self._popen = subprocess.Popen(
            list(self.argv),
            env=dict(self.env),
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: stop() reaches every grandchild
        )
        return self

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen else None

    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def exit_status(self) -> str:
        """How the process ended, for a log line."""
        code = self._popen.poll() if self._popen else None
        if code is None:
            return "running"
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exited with status {code}"

    def kill(self) -> None:
        """SIGKILL the whole group at once, as when an instance dies."""
        if self._popen is not None:
            _signal_group(self._popen.pid, signal.SIGKILL)

    def restart(self, grace_seconds: float = 5.0) -> Process:
        """Start again after the process died; what is left of its old group (a worker
        still holding the port) is killed first. The log file continues."""
        if self._popen is not None:
            group = self._popen.pid
            _signal_group(group, signal.SIGKILL)
            self._popen.wait(timeout=grace_seconds)
            deadline = time.monotonic() + grace_seconds
            while _group_alive(group) and time.monotonic() < deadline:
                time.sleep(0.05)
        if self._log is not None:
            self._log.close()
        return self.start()

    def tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def terminate(self) -> None:
        """Ask the whole group to stop, without waiting (stop() waits)."""
        if self._popen is not None:
            _signal_group(self._popen.pid, signal.SIGTERM)

    def stop(self, grace_seconds: float = 5.0) -> None:
        """SIGTERM the whole group, then SIGKILL what is left after the grace period."""
        if self._popen is None:
            return
        group = self._popen.pid  # a session leader's pid is its group id
        _signal_group(group, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(timeout=grace_seconds)
        # Children (the emulators' Java) may outlive the leader: kill the group regardless.
        deadline = time.monotonic() + grace_seconds
        while _group_alive(group) and time.monotonic() < deadline:
            time.sleep(0.1)
        _signal_group(group, signal.SIGKILL)
        if self._popen.poll() is None:
            self._popen.wait(timeout=grace_seconds)
        if self._log is not None:
            self._log.close()
        self._popen = None


def _signal_group(group: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, sig)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for_http(url: str, process: Process, timeout_seconds: float = 60.0) -> None:
    """Poll until `url` answers any HTTP status; fail fast if the process dies."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if not process.running():
            raise StackError(
                f"{process.name} exited during start-up; its log ({process.log_path}) ends:\n"
                + process.tail()
            )
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered: it is up
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise StackError(
        f"{process.name} did not answer on {url} within {timeout_seconds:.0f} s; "
        f"see {process.log_path}:\n" + process.tail()
    )


def wait_for_port(port: int, process: Process, timeout_seconds: float = 60.0) -> None:
    """Poll until something accepts connections on `port` (for servers where a GET would
    run a handler, like an HTTP-triggered function)."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if not process.running():
            raise StackError(
                f"{process.name} exited during start-up; its log ({process.log_path}) ends:\n"
                + process.tail()
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise StackError(
        f"{process.name} did not listen on port {port} within {timeout_seconds:.0f} s; "
        f"see {process.log_path}:\n" + process.tail()
    )
