"""A poll killed half-way (a real process, SIGKILL) never creates a second request when it runs
again, and the customer still gets exactly one reply.

The child process runs the real poll against the real IMAP server and the test database, with one
function replaced by "say PAUSED and sleep" at the point where it is then killed:
- after the message was handled (request submitted and committed) but before it was marked in
  the mailbox, so the next poll reads the same message again;
- after that commit but before the reply was queued, so the reply exists only in the outbox row.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core import mail as django_mail
from django.db import connection
from django.utils import timezone

from compensation.intake.imap import HANDLED_KEYWORD
from compensation.intake.poll import mailbox_poll
from compensation.models import CompensationRequest, InboundMessage

from ..conftest import ProgrammableStatus
from ..factories.orders import OrderFactory, delivered_line
from .dovecot import TestMailbox
from .mails import mail

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import sys, time
import django
django.setup()
from django.conf import settings
from django.utils import timezone
import compensation.intake.imap as imap
import compensation.queueing as queueing
from compensation.intake.poll import mailbox_poll

settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
settings.EMAIL_FILE_PATH = sys.argv[2]

def pause(*args, **kwargs):
    print("PAUSED", flush=True)
    time.sleep(300)

queue_task = queueing.async_task

def pause_before_reply(path, *args, **kwargs):
    if path == "compensation.intake.tasks.send_reply":
        pause()
    return queue_task(path, *args, **kwargs)

if sys.argv[1] == "before_mark":
    imap.Mailbox.mark_handled = pause
else:  # before_reply: the reply's task is queued on commit (the request's checks still are)
    queueing.async_task = pause_before_reply
mailbox_poll(now=timezone.now())
print("FINISHED", flush=True)
"""


def _database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    return (
        f"postgres://{user}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    )


def _run_until_paused(kill_point: str, outbox_dir: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": _database_url(),
        "IMAP_URL": django_settings.IMAP_URL,
        "STATUS_API_URL": django_settings.STATUS_API_URL,
        "DEFAULT_FROM_EMAIL": django_settings.DEFAULT_FROM_EMAIL,
        "SITE_URL": django_settings.SITE_URL,
    }
    child = subprocess.Popen(  # noqa: S603 - this interpreter, our own script
        [sys.executable, "-c", CHILD, kill_point, str(outbox_dir)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        selector = selectors.DefaultSelector()
        assert child.stdout is not None
        selector.register(child.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 60
        line = b""
        while time.monotonic() < deadline and b"PAUSED" not in line:
            if selector.select(timeout=1):
                line = child.stdout.readline()
                if not line:
                    break
        if b"PAUSED" not in line and child.poll() is not None and child.stderr is not None:
            pytest.fail(child.stderr.read().decode(errors="replace"))
        assert b"PAUSED" in line, "the child did not reach the kill point in time"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL


def _replies_in(outbox_dir: Path) -> int:
    return sum(f.read_text().count("Message-ID: <desk-reply.") for f in outbox_dir.glob("*"))


def _replies_in_process() -> int:
    return sum("desk-reply." in str(m.extra_headers.get("Message-ID")) for m in django_mail.outbox)


@pytest.fixture
def customer_mail(mailbox: TestMailbox, status_double: ProgrammableStatus) -> TestMailbox:
    line = delivered_line(order=OrderFactory.create(order_id="A1001", email="buyer@example.com"))
    account = line.accounts.get()
    status_double.set_profile(account.platform, account.username, state="locked")
    mailbox.deliver(mail(sender="buyer@example.com", subject="Order A1001", body="Locked."))
    return mailbox


def test_killed_after_submitting_before_marking_the_message(
    customer_mail: TestMailbox, tmp_path: Path
) -> None:
    _run_until_paused("before_mark", tmp_path)

    # The child committed the request and sent its reply, then died before marking the mail.
    assert CompensationRequest.objects.count() == 1
    assert customer_mail.flags() == [set()]
    assert _replies_in(tmp_path) == 1

    result = mailbox_poll(now=timezone.now())  # the next run reads the same message again

    assert (result.read, result.handled) == (1, 1)
    assert CompensationRequest.objects.count() == 1
    assert InboundMessage.objects.count() == 1
    assert _replies_in_process() == 0
    assert customer_mail.flags() == [{HANDLED_KEYWORD, "\\Seen"}]


def test_killed_after_submitting_before_the_reply_was_queued(
    customer_mail: TestMailbox, tmp_path: Path, settings: Any
) -> None:
    _run_until_paused("before_reply", tmp_path)

    inbound = InboundMessage.objects.get()
    assert (inbound.outcome, inbound.reply_sent_at) == (InboundMessage.Outcome.REQUEST, None)
    assert CompensationRequest.objects.count() == 1
    assert _replies_in(tmp_path) == 0

    mailbox_poll(now=timezone.now())

    assert CompensationRequest.objects.count() == 1
    assert _replies_in_process() == 1  # sent by the next poll's outbox sweep, once
    assert InboundMessage.objects.get().reply_sent_at is not None
    assert customer_mail.flags() == [{HANDLED_KEYWORD, "\\Seen"}]
