"""The console's control buttons in a real browser: cancel a working order, close a
position, each confirmed first and carried out by the pipeline (docs/control.md)."""

from __future__ import annotations

import uuid
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import ADMIN_TOKEN, Console, screenshot
from tests.browser.test_console import CONTAINS, sign_in, signal, wait_for_text

ROW_BUTTON = (
    "const row = [...document.querySelectorAll(arguments[0] + ' tr')]"
    ".find(r => r.innerText.includes(arguments[1]));"
    "return row ? row.querySelector('button.control') : null"
)


def press(driver: Any, table: str, text: str) -> None:
    """Press the control button of the row showing `text`, and confirm."""
    button = WebDriverWait(driver, 10).until(lambda d: d.execute_script(ROW_BUTTON, table, text))
    button.click()
    WebDriverWait(driver, 5).until(lambda d: d.switch_to.alert).accept()


def gone(driver: Any, css: str, text: str, timeout: float = 10) -> None:
    WebDriverWait(driver, timeout, poll_frequency=0.1).until(
        lambda d: not d.execute_script(CONTAINS, css, text)
    )


def test_cancel_a_working_order_from_the_orders_page(console: Console, browser: Any) -> None:
    sign_in(browser, console, ADMIN_TOKEN, "/orders")
    strategy = f"rest{uuid.uuid4().hex[:6]}"
    answer = console.post_signal(signal(strategy=strategy, limit_price="1000"))
    assert answer.status_code == 202, answer.text
    wait_for_text(browser, "#working td", strategy, timeout=10)
    press(browser, "#working", strategy)
    gone(browser, "#working td", strategy)
    wait_for_text(browser, "#events li", "cancel 202", timeout=5)
    screenshot(browser, "control-cancel")


def test_close_a_position_from_the_positions_page(console: Console, browser: Any) -> None:
    sign_in(browser, console, ADMIN_TOKEN, "/positions")
    assert browser.find_element(By.CSS_SELECTOR, "button.control.danger").is_displayed()
    strategy = f"close{uuid.uuid4().hex[:6]}"
    assert console.post_signal(signal(strategy=strategy)).status_code == 202
    wait_for_text(browser, "#positions td", strategy, timeout=10)
    press(browser, "#positions", strategy)
    gone(browser, "#positions td", strategy)
    held = console.services.ledger.position("acct", strategy, "BTC/USDT:USDT").quantity
    assert held == 0
    screenshot(browser, "control-close")
