"""Shared by the browser tests: headless Debian Chromium driven by Playwright, a page per test,
logging in through the admin's own form, the customer's pages against a live server with the
status double, and screenshots when SCREENSHOTS_DIR is set."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

try:
    import playwright.sync_api as playwright_api
except ImportError:  # pragma: no cover - an optional dev dependency; CI fails instead of skipping
    playwright_api = None  # type: ignore[assignment]

from compensation.status import reset_status_client
from compensation.status.double import StatusDouble

from .support import DESKTOP

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


# --- the customer's pages ----------------------------------------------------------------------


@pytest.fixture
def browser(chromium: Any) -> Any:
    return chromium


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A desktop-sized page (1,100 x 900) in British English."""
    context = chromium.new_context(viewport=DESKTOP, locale="en-GB")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def double(settings: Any) -> Iterator[StatusDouble]:
    with StatusDouble() as running:
        settings.STATUS_API_URL = running.url
        settings.STATUS_API_MAX_ATTEMPTS = 1
        reset_status_client()
        yield running
    reset_status_client()


@pytest.fixture
def customer_site(settings: Any, live_server: Any) -> Iterator[None]:
    """Links in e-mails point at the live server; rate-limit counters start empty."""
    settings.SITE_URL = live_server.url
    cache.clear()
    yield
    cache.clear()
