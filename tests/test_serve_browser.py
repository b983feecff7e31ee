"""The pay page in a real browser: Debian's chromium driven by Playwright (the Python package, pointed at the
system chromium; `playwright install` is never run). One browser for the module, a fresh page per test.

Set PAYPAGE_SCREENSHOTS=DIR to keep the small-phone screenshots for a look.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, control
from requires import require_binary
from serve_helpers import db_rows, pay_page

from khalti_cli.sandbox import SandboxServer

PHONE = {"width": 360, "height": 740}  # a small Android phone, CSS pixels


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = require_binary("chromium", "chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions"],
        )  # fmt: skip
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def tab(browser: Any, site: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    # The pay page's own failures only (the sandbox's page has no favicon, like many sites).
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 and r.url.startswith(site.url) else None,
    )
    page.problems = problems
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def site(configured: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with pay_page(monkeypatch) as running:
        yield running


def fee(cli: Cli, order_id: str = "B-1") -> str:
    run = cli("create", "--amount", "2500", "--name", "Tuition, Poush", "--order-id", order_id,
              "--customer-name", "सीता शर्मा", "--format", "json")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    return str(run.json()["pay_url"])


def status(order_id: str) -> str:
    return str(db_rows("SELECT status FROM payments WHERE order_id = ?", [order_id])[0][0])


def keep(tab: Any, name: str) -> None:
    """With PAYPAGE_SCREENSHOTS=DIR, a full-page screenshot to look at."""
    folder = os.environ.get("PAYPAGE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(Path(folder) / name), full_page=True)


def pay_on_khalti(tab: Any) -> None:
    tab.fill("input[name=mobile]", "9800000001")
    tab.fill("input[name=mpin]", "1111")
    tab.click("form[action='/pay'] button")


def test_parent_pays_and_comes_back_to_paid(tab: Any, site: Any, cli: Cli, configured: SandboxServer) -> None:
    tab.goto(fee(cli))
    assert "सीता शर्मा" in tab.inner_text("main") and "Rs 2,500.00" in tab.inner_text("main")
    tab.click("text=Pay with Khalti")
    tab.wait_for_url(configured.url + "/?pidx=*")
    pay_on_khalti(tab)
    tab.wait_for_url(site.url + "/return?*")
    text = tab.inner_text("main")
    assert "Payment received" in text and "Paid" in text and "This fee is paid" in text
    assert status("B-1") == "completed"
    assert not tab.problems  # no CSP violation, no failed asset
    keep(tab, "return-page-paid.png")


def test_parent_cancels_then_pays_after_the_link_expired(
    tab: Any, site: Any, cli: Cli, configured: SandboxServer
) -> None:
    url = fee(cli)
    tab.goto(url)
    tab.click("text=Pay with Khalti")
    tab.wait_for_url(configured.url + "/?pidx=*")
    tab.click("text=Cancel")
    tab.wait_for_url(site.url + "/return?*")
    assert "The payment was canceled" in tab.inner_text("main") and status("B-1") == "canceled"

    # Again; this time the parent leaves Khalti's page open until its link expires, then comes back.
    tab.click("text=Pay with Khalti")
    tab.wait_for_url(configured.url + "/?pidx=*")
    expired_pidx = tab.url.split("pidx=")[1]
    control(configured, expired_pidx, "expire")
    tab.goto(url)
    tab.click("text=Pay with Khalti")
    tab.wait_for_url(configured.url + "/?pidx=*")
    assert tab.url.split("pidx=")[1] != expired_pidx  # a new link was made
    pay_on_khalti(tab)
    tab.wait_for_url(site.url + "/return?*")
    assert "Payment received" in tab.inner_text("main") and status("B-1") == "completed"


def test_a_forged_return_changes_nothing(tab: Any, site: Any, cli: Cli, configured: SandboxServer) -> None:
    tab.goto(fee(cli))
    tab.click("text=Pay with Khalti")
    tab.wait_for_url(configured.url + "/?pidx=*")
    pidx = tab.url.split("pidx=")[1]
    tab.goto(f"{site.url}/return?pidx={pidx}&status=Completed&total_amount=250000&transaction_id=X&txnId=X")
    text = tab.inner_text("main")
    assert "Payment received" not in text and "Not paid yet" in text
    assert status("B-1") == "initiated"


def test_small_phone_screenshot_reads_well(tab: Any, site: Any, cli: Cli, tmp_path: Path) -> None:
    tab.goto(fee(cli))
    tab.wait_for_load_state("networkidle")
    # Nothing wider than the phone: no sideways scrolling; the button is big enough for a thumb.
    assert tab.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    box = tab.locator("button").bounding_box()
    assert box["height"] >= 44 and box["width"] >= 0.8 * PHONE["width"] - 40
    # The Devanagari font is used (served by the page when the phone has none).
    assert tab.evaluate("document.fonts.check('16px \"Noto Sans Devanagari\"', 'सीता')")
    shot = tmp_path / "pay-page-phone.png"
    tab.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    keep(tab, shot.name)
    assert not tab.problems
