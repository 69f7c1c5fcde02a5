"""The console in a real browser: offline, live, honest about refusals, and role-aware."""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import urlparse

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from stratus.manager.console.pages import PAGES
from tests.browser.conftest import (
    ADMIN_TOKEN,
    SCREENSHOTS,
    Console,
    requested_urls,
    screenshot,
)

# Read in the page in one go: htmx may swap the elements between two WebDriver calls.
CONTAINS = (
    "return [...document.querySelectorAll(arguments[0])]"
    ".some(e => e.innerText.includes(arguments[1]))"
)
ONLY_REFUSED = (
    "const fates = [...document.querySelectorAll('#signals .fate')].map(e => e.innerText);"
    "return fates.length > 0 && fates.every(f => f === 'refused')"
)
LOCAL_SCHEMES = {"data", "blob", "about", "chrome"}  # chrome: the browser's own pages


def sign_in(driver: Any, console: Console, token: str, path: str = "/") -> None:
    driver.get(console.url + path)
    field = WebDriverWait(driver, 10).until(
        expected_conditions.visibility_of_element_located((By.ID, "token"))
    )
    field.send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "#sign-in button").click()
    WebDriverWait(driver, 10).until(
        lambda d: (
            d.find_element(By.ID, "who").text and d.find_element(By.CSS_SELECTOR, "#content h1")
        )
    )


def wait_for_text(driver: Any, css: str, text: str, timeout: float) -> float:
    """Seconds until an element matching `css` contains `text`."""
    started = time.monotonic()
    WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        lambda d: d.execute_script(CONTAINS, css, text)
    )
    return time.monotonic() - started


def signal(**fields: Any) -> dict[str, Any]:
    return {
        "signal_id": f"browser-{uuid.uuid4().hex[:8]}",
        "account": "acct",
        "strategy": "trend",
        "symbol": "BTC/USDT:USDT",
        "action": "buy",
        "quantity": "0.01",
        "confidence": 0.95,
        **fields,
    }


def test_every_page_loads_with_no_request_leaving_the_machine(
    console: Console, browser: Any
) -> None:
    console.post_signal(signal())  # something to show
    sign_in(browser, console, ADMIN_TOKEN)
    server = urlparse(console.url).netloc
    seen: list[str] = []
    blocked: list[str] = []
    for path, name, title in PAGES:
        browser.get(console.url + path)
        wait_for_text(browser, "#content h1", title.split()[0], timeout=10)
        if name == "pnl":  # the chart draws once its series arrive
            WebDriverWait(browser, 10).until(
                lambda d: d.find_elements(By.CSS_SELECTOR, "#pnl-chart .uplot canvas")
            )
        screenshot(browser, f"desktop-{name}")
        browser.set_window_size(390, 844)  # a phone
        browser.refresh()
        wait_for_text(browser, "#content h1", title.split()[0], timeout=10)
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 0, f"{path} is wider than a phone by {overflow}px"
        screenshot(browser, f"phone-{name}")
        browser.set_window_size(1280, 900)
        sent, refused = requested_urls(browser)
        seen, blocked = seen + sent, blocked + refused
    for docs, ready in (
        ("/docs", ".swagger-ui .info"),
        ("/redoc", "[role=navigation], .menu-content"),
    ):
        browser.get(console.url + docs)
        WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ready))
        )
        screenshot(browser, docs.strip("/"))
        sent, refused = requested_urls(browser)
        seen, blocked = seen + sent, blocked + refused
    print(f"\nscreenshots in {SCREENSHOTS.resolve()}; blocked by the page policy: {blocked}")
    outside = [
        url
        for url in seen
        if urlparse(url).scheme not in LOCAL_SCHEMES and urlparse(url).netloc != server
    ]
    assert seen, "the performance log recorded no request"
    assert not outside, f"requests left the machine: {sorted(set(outside))}"
    assert any(url.startswith("ws://") for url in seen), "no live stream was opened"


def test_a_position_appears_within_2_seconds_of_a_signed_signal_without_a_reload(
    console: Console, browser: Any
) -> None:
    sign_in(browser, console, ADMIN_TOKEN, "/positions")
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "live").text == "live")
    marker = browser.execute_script("window.notReloaded = true; return window.notReloaded")
    strategy = f"live{uuid.uuid4().hex[:6]}"
    accepted = console.post_signal(signal(strategy=strategy, symbol="ETH/USDT:USDT"))
    assert accepted.status_code == 202, accepted.text
    seconds = wait_for_text(browser, "#positions td", strategy, timeout=10)
    screenshot(browser, "live-position")
    print(f"\nposition shown {seconds:.2f} s after the webhook answered")
    assert seconds < 2.0
    assert browser.execute_script("return window.notReloaded") is marker


def test_a_refused_signal_shows_its_reason(console: Console, browser: Any) -> None:
    sign_in(browser, console, ADMIN_TOKEN, "/signals")
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "live").text == "live")
    refused = signal(quantity="-5")
    answer = console.post_signal(refused)
    assert answer.status_code == 400
    reason = answer.json()["error"]
    row = f"tr[data-signal='{refused['signal_id']}']"
    wait_for_text(browser, f"{row} .reason", reason, 5)
    wait_for_text(browser, f"{row} .fate", "refused", 1)
    wait_for_text(browser, f"{row} .reason", "quantity", 1)
    screenshot(browser, "refused-signal")
    # Filter by fate, the account left empty: only refusals remain.
    Select(browser.find_element(By.CSS_SELECTOR, "form.filter select")).select_by_visible_text(
        "refused"
    )
    browser.find_element(By.CSS_SELECTOR, "form.filter button").click()
    WebDriverWait(browser, 5).until(
        lambda d: d.execute_script(ONLY_REFUSED) and d.find_elements(By.CSS_SELECTOR, row)
    )


def test_a_reader_sees_no_admin_data(console: Console, browser: Any) -> None:
    sign_in(browser, console, console.reader_token)
    assert browser.find_element(By.ID, "who").text.endswith("reader")
    admin_links = browser.find_elements(By.CSS_SELECTOR, "nav a.admin-only")
    assert admin_links
    assert not any(link.is_displayed() for link in admin_links)
    browser.get(console.url + "/admin")
    WebDriverWait(browser, 10).until(
        lambda d: "may not see" in d.find_element(By.ID, "content").text
    )
    assert "local-dev-admin" not in browser.page_source  # the admin token's name
    assert not browser.find_elements(By.ID, "tokens")
    screenshot(browser, "reader-admin")
