"""Shared by the browser tests: headless Debian Chromium driven by Playwright, a page per test,
logging in through the admin's own form, and screenshots when SCREENSHOTS_DIR is set."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    import playwright.sync_api as playwright_api
except ImportError:  # pragma: no cover - an optional dev dependency; CI fails instead of skipping
    playwright_api = None  # type: ignore[assignment]

# Playwright's sync API runs an event loop in this thread; the ORM calls of the test are safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BACK_OFFICE = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    if playwright_api is None:
        if os.environ.get("CI"):
            pytest.fail("playwright is not installed")
        pytest.skip("playwright is not installed")
    with playwright_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def office_page(chromium: Any) -> Iterator[Any]:
    """A 1,280 x 800 page: the back office at a common laptop width."""
    context = chromium.new_context(viewport=BACK_OFFICE, locale="en-GB")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def admin_login(page: Any, base_url: str, username: str, password: str = "pw") -> None:
    page.goto(f"{base_url}/admin/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/admin/")


def shoot(page: Any, name: str, *, full_page: bool = True) -> None:
    """Save the page as docs-ready PNG when SCREENSHOTS_DIR is set."""
    directory = os.environ.get("SCREENSHOTS_DIR")
    if not directory:
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=full_page)


@pytest.fixture
def screenshot() -> Callable[[Any, str], None]:
    return shoot
