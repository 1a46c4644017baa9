"""The fault suite: real processes, real HTTP, a real SMTP server, PostgreSQL only.

Every fault test records its figures in `fault_figures` (faults tried, e-mails expected /
delivered / duplicated / shown as failed, requests stuck); they are printed at the end of the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django_q.conf import Conf

from tests.doubles.smtp_server import SmtpDouble


@dataclass
class Figures:
    faults: int = 0
    emails_expected: int = 0
    emails_delivered: int = 0
    emails_duplicated: int = 0
    emails_failed_shown: int = 0
    requests: int = 0
    requests_stuck: int = 0
    notes: list[str] = field(default_factory=list)


_FIGURES: dict[str, Figures] = {}


@pytest.fixture
def fault_figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    figures = Figures()
    yield figures
    _FIGURES[request.node.name] = figures


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIGURES:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault suite figures")
    header = (
        f"{'test':<58} {'faults':>6} {'mail exp':>8} {'deliv':>5} {'dup':>4} {'failed':>6} "
        f"{'reqs':>5} {'stuck':>5}"
    )
    write(header)
    total = Figures()
    for name, f in sorted(_FIGURES.items()):
        write(
            f"{name[:58]:<58} {f.faults:>6} {f.emails_expected:>8} {f.emails_delivered:>5} "
            f"{f.emails_duplicated:>4} {f.emails_failed_shown:>6} {f.requests:>5} "
            f"{f.requests_stuck:>5}"
        )
        for note in f.notes:
            write(f"    {note}")
        for attr in (
            "faults",
            "emails_expected",
            "emails_delivered",
            "emails_duplicated",
            "emails_failed_shown",
            "requests",
            "requests_stuck",
        ):
            setattr(total, attr, getattr(total, attr) + getattr(f, attr))
    write(
        f"{'TOTAL':<58} {total.faults:>6} {total.emails_expected:>8} "
        f"{total.emails_delivered:>5} {total.emails_duplicated:>4} "
        f"{total.emails_failed_shown:>6} {total.requests:>5} {total.requests_stuck:>5}"
    )


@pytest.fixture
def smtp_double(settings: Any) -> Iterator[Any]:
    """A real SMTP server on 127.0.0.1; this process's e-mail goes to it too."""
    with SmtpDouble() as double:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = double.host, double.port
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 1.0
        yield double


@pytest.fixture
def queue_to_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tasks queued by this process go to the ORM broker (for a real qcluster), not inline."""
    monkeypatch.setattr(Conf, "SYNC", False)
