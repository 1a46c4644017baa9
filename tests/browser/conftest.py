"""Fixtures of the browser tests: Debian's Chromium driven by Playwright against a live server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
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

from .support import CHROMIUM, CHROMIUM_ARGS, DESKTOP

# Playwright's sync API runs an event loop in this thread; the ORM calls of the test are safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
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
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
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


@pytest.fixture(autouse=True)
def _site(settings: Any, live_server: Any) -> Iterator[None]:
    settings.SITE_URL = live_server.url
    cache.clear()
    yield
    cache.clear()
