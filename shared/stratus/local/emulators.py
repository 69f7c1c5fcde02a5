"""Google's official Pub/Sub and Firestore emulators, started through gcloud."""

from __future__ import annotations

import os
import shutil
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from stratus.local.processes import Process, StackError, ensure_free, wait_for_http

INSTALL_HINT = (
    "install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install) and the "
    "emulators: `gcloud components install pubsub-emulator cloud-firestore-emulator beta` "
    "(apt: google-cloud-cli-pubsub-emulator google-cloud-cli-firestore-emulator); "
    "they need Java 11+"
)


def gcloud() -> str:
    """The gcloud executable, or a StackError saying how to install it."""
    found = shutil.which("gcloud")
    if found is None:
        raise StackError(f"gcloud is not on PATH: {INSTALL_HINT}")
    return found


def pubsub(port: int, logs: Path, env: Mapping[str, str] | None = None) -> Process:
    ensure_free(port, "the Pub/Sub emulator")
    return _start(
        "pubsub-emulator",
        [gcloud(), "beta", "emulators", "pubsub", "start", f"--host-port=127.0.0.1:{port}"],
        port,
        logs,
        env,
    )


def firestore(port: int, logs: Path, env: Mapping[str, str] | None = None) -> Process:
    ensure_free(port, "the Firestore emulator")
    return _start(
        "firestore-emulator",
        [gcloud(), "emulators", "firestore", "start", f"--host-port=127.0.0.1:{port}"],
        port,
        logs,
        env,
    )


def _start(
    name: str, argv: list[str], port: int, logs: Path, env: Mapping[str, str] | None
) -> Process:
    process = Process(name, argv, env or dict(os.environ), logs / f"{name}.log").start()
    try:
        # Both emulators answer "Ok" on their root once they serve.
        wait_for_http(f"http://127.0.0.1:{port}/", process, timeout_seconds=60)
    except StackError as error:
        process.stop()
        raise StackError(f"{error}\nIf the emulator is missing: {INSTALL_HINT}") from None
    return process


def clear_firestore(host: str, project: str) -> None:
    """Delete every document in the emulator's default database (between test runs)."""
    url = f"http://{host}/emulator/v1/projects/{project}/databases/(default)/documents"
    request = urllib.request.Request(url, method="DELETE")
    with urllib.request.urlopen(request, timeout=10):
        pass
