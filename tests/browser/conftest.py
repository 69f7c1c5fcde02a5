"""The browser tier: the console in Debian's headless Chromium, driven by selenium with
Debian's chromedriver (never a downloaded browser), against `stratus up`'s app served by
uvicorn on a free port.

Skips locally without chromium and chromium-driver (saying how to get them); fails in CI
(tests/conftest.py), where .ci/run installs them.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from stratus.adapters.local_bus import LocalBus
from stratus.adapters.sql.tokens import Role
from stratus.cli.up import deliver_forever, local_app
from stratus.config import Settings
from stratus.local.processes import free_port
from stratus.manager.store import Store
from stratus.service.bootstrap import build
from stratus.service.handlers import ingest
from stratus.service.services import Services
from tests.conftest import open_accounts, unavailable

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ADMIN_TOKEN = Settings().manager_dev_token.get_secret_value()
SCREENSHOTS = Path(os.environ.get("STRATUS_SCREENSHOTS", ".stratus/screenshots"))
# The flags that keep Chromium from calling Google's services on this closed network.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@dataclass
class Console:
    url: str
    services: Services
    reader_token: str

    def post_signal(self, signal: dict[str, Any]) -> httpx.Response:
        """POST a signal to /webhook, signed like any sender does."""
        body = json.dumps(signal).encode()
        stamp = str(int(time.time()))
        secret = json.loads(self.services.secrets.get(ingest.WEBHOOK_SECRETS))["demo"]
        headers = ingest.signed_headers("demo", secret, stamp, body)
        return httpx.post(f"{self.url}/webhook", content=body, headers=headers, timeout=10)


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """`stratus up` as a user runs it: SQLite under a temporary directory, the system
    clock, the in-process bus delivering all the time."""
    database = tmp_path_factory.mktemp("console") / "stratus.db"
    services = build(Settings(database_url=f"sqlite:///{database}"))
    assert isinstance(services.bus, LocalBus)
    app = local_app(services)
    open_accounts(services, "acct")
    reader = Store.of(services).tokens.issue("browser-reader", Role.READER)[1]
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = threading.Thread(target=server.run, name="console-server")
    stop = threading.Event()
    bus = threading.Thread(target=deliver_forever, args=(services.bus, stop, 0.02), name="bus")
    serving.start()
    bus.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not serving.is_alive():
                raise RuntimeError("the console server did not start")
            time.sleep(0.05)
        yield Console(f"http://127.0.0.1:{port}", services, reader)
    finally:
        server.should_exit = True
        stop.set()
        serving.join(timeout=10)
        bus.join(timeout=10)


@pytest.fixture(scope="session")
def browser_available() -> None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
    if missing or shutil.which("chromedriver") is None:
        unavailable(
            "Debian's Chromium and ChromeDriver",
            "apt-get install -y chromium chromium-driver (.ci/run does it)",
        )


@pytest.fixture
def browser(browser_available: None, tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,900"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def requested_urls(driver: Any) -> tuple[list[str], list[str]]:
    """Every URL the pages asked for since the last call (Chrome's performance log):
    documents, scripts, styles, images, fonts, fetches and WebSockets; and those the
    browser blocked before sending (the console's Content-Security-Policy)."""
    sent: dict[str, str] = {}
    blocked = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            sent[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.webSocketCreated":
            sent[params["requestId"]] = params["url"]
        elif message["method"] == "Network.loadingFailed" and params.get("blockedReason"):
            blocked.append(sent.pop(params["requestId"], "?"))
    return list(sent.values()), blocked


def screenshot(driver: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
