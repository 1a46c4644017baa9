"""TLS to the IMAP server: STARTTLS on imap:// when offered, imaps://, and a certificate the
system does not trust is refused."""

from __future__ import annotations

import ssl
from typing import Any

import pytest
from django.utils import timezone

from compensation.intake.poll import mailbox_poll
from compensation.models import CompensationRequest, InboundMessage

from ..conftest import ProgrammableStatus
from .dovecot import DovecotServer, TestMailbox
from .mails import mail
from .support import order_with_locked_account

# Real commits: the reply and the status checks are queued on commit, as in production.
pytestmark = pytest.mark.django_db(transaction=True)

Outcome = InboundMessage.Outcome


def test_starttls_is_used_when_the_server_offers_it(
    dovecot_tls: DovecotServer,
    trust_test_certificate: None,
    settings: Any,
    status_double: ProgrammableStatus,
) -> None:
    box = TestMailbox(dovecot_tls, "desk-starttls")
    settings.IMAP_URL = box.url
    order_with_locked_account(status_double, order_id="A1001", email="buyer@example.com")
    box.deliver(mail(sender="buyer@example.com", subject="A1001", body="locked"))

    assert mailbox_poll(now=timezone.now()).handled == 1

    logins = [line for line in dovecot_tls.log.splitlines() if "user=<desk-starttls>" in line]
    assert logins and ", TLS," in logins[-1]
    assert CompensationRequest.objects.count() == 1


def test_imaps_connects_with_tls(
    dovecot_tls: DovecotServer, trust_test_certificate: None, settings: Any
) -> None:
    box = TestMailbox(dovecot_tls, "desk-imaps")
    settings.IMAP_URL = dovecot_tls.url("desk-imaps", imaps=True)
    box.deliver(mail(sender="nobody@example.com", subject="hi", body="hello"))

    assert mailbox_poll(now=timezone.now()).handled == 1
    logins = [line for line in dovecot_tls.log.splitlines() if "user=<desk-imaps>" in line]
    assert logins and ", TLS," in logins[-1]


def test_an_untrusted_certificate_is_refused(dovecot_tls: DovecotServer, settings: Any) -> None:
    settings.IMAP_URL = dovecot_tls.url("desk-untrusted", imaps=True)
    with pytest.raises(ssl.SSLCertVerificationError):
        mailbox_poll(now=timezone.now())
