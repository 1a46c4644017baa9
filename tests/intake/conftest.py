from __future__ import annotations

import os
import ssl
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache

import compensation.intake.imap as imap

from .dovecot import DovecotServer, TestMailbox, dovecot_available


def _server(*, tls: bool) -> Iterator[DovecotServer]:
    if not dovecot_available():
        message = "dovecot is not installed (apt-get install dovecot-imapd)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = DovecotServer(tls=tls).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    yield from _server(tls=False)


@pytest.fixture(scope="session")
def dovecot_tls() -> Iterator[DovecotServer]:
    yield from _server(tls=True)


@pytest.fixture
def mailbox(dovecot: DovecotServer, settings: Any) -> TestMailbox:
    """A fresh, empty support mailbox on the real server, with IMAP_URL pointing at it."""
    box = TestMailbox(dovecot, f"desk-{uuid.uuid4().hex[:12]}")
    settings.IMAP_URL = box.url
    settings.DEFAULT_FROM_EMAIL = "Compensation desk <support@shop.test>"
    settings.SITE_URL = "https://shop.test"
    cache.clear()  # rate-limit counters of earlier tests
    return box


@pytest.fixture
def trust_test_certificate(dovecot_tls: DovecotServer, monkeypatch: pytest.MonkeyPatch) -> None:
    assert dovecot_tls.cert is not None
    cafile = str(dovecot_tls.cert)
    monkeypatch.setattr(imap, "tls_context", lambda: ssl.create_default_context(cafile=cafile))
