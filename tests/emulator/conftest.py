"""The emulator tier: the whole pipeline on Google's Pub/Sub and Firestore emulators,
functions-framework servers and PostgreSQL, started once per session.

Skips locally (saying how to install what is missing) and fails in CI (tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import fresh_database, unavailable
from tests.emulator.helpers import require_gcloud
from tests.webhook import Webhook

from stratus.config import DEV_PLACEHOLDER
from stratus.local.processes import free_port
from stratus.local.stack import Stack, StackConfig
from stratus.topology import topology

HERE = Path(__file__).parent
PROJECT = "stratus-emulator-tests"
# The development source, and one the flood test may exhaust the rate limit of.
WEBHOOK_SECRETS = {"demo": DEV_PLACEHOLDER, "flood": "flood-secret"}
# Short backoff: redelivery after 1 s and dead-lettering after 5 attempts within 11 s
# (1 + 2 + 4 + 4), longer than a function server takes to come back after a crash.
RETRY = topology().retry.model_copy(
    update={"minimum_backoff_seconds": 1, "maximum_backoff_seconds": 4}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.emulator)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for the session, dropped afterwards."""
    with fresh_database("stratus_emulator") as url:
        yield url


@pytest.fixture(scope="session")
def notify_hook() -> Iterator[Webhook]:
    """Where the stack's notify function sends everything (docs/notifications.md)."""
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture(scope="session")
def stack(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, notify_hook: Webhook
) -> Iterator[Stack]:
    require_gcloud()
    faulty = HERE / "faulty_main.py"
    config = StackConfig(
        project=PROJECT,
        database_url=database_url,
        state="firestore",
        logs=tmp_path_factory.mktemp("stack-logs"),
        retry=RETRY,
        sources={"execute_order": faulty, "update_position": faulty},
        scheduler=False,  # the tests fire schedules themselves
        env={
            "STRATUS_SECRET_WEBHOOK_SECRETS": json.dumps(WEBHOOK_SECRETS),
            "STRATUS_SECRET_NOTIFY_DESTINATIONS": json.dumps([{"url": notify_hook.url}]),
            "STRATUS_NOTIFY_BATCH_SECONDS": "0.5",
            "STRATUS_WATCH__SCOPE_SECONDS": "1",  # a new account or position seen at once
        },
    )
    with Stack(config) as started:
        yield started


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[str]:
    """host:port of a Firestore emulator started for this session (own process group)."""
    if shutil.which("gcloud") is None:
        unavailable(
            "the Firestore emulator",
            "install the Google Cloud CLI and `gcloud components install cloud-firestore-emulator`",
        )
    host = f"127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        ["gcloud", "emulators", "firestore", "start", f"--host-port={host}", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://{host}/", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    unavailable("the Firestore emulator", f"it did not start on {host}")
                time.sleep(0.3)
        yield host
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
