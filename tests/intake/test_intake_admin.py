"""Staff see every mail on the request it created, and work through the mail that needs a person."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from compensation.events import CompensationEvent
from compensation.models import InboundMessage
from inventory.models import Event

from ..factories.compensation import CompensationRequestFactory, agent, staff_user

pytestmark = pytest.mark.django_db

LIST = "/admin/compensation/inboundmessage/"
Outcome = InboundMessage.Outcome


def inbound(**fields: Any) -> InboundMessage:
    now = timezone.now()
    defaults: dict[str, Any] = {
        "message_key": f"m{InboundMessage.objects.count()}@customer.test",
        "sender": "buyer@example.com",
        "subject": "Order A1001",
        "arrived_at": now,
        "read_at": now,
        "handled_at": now,
        "text": "My account is locked.",
    }
    return InboundMessage.objects.create(**{**defaults, **fields})


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_request_page_shows_the_mail_that_created_it() -> None:
    request = CompensationRequestFactory.create(order__order_id="A1001")
    inbound(
        request=request,
        outcome=Outcome.REQUEST,
        subject="Locked account, order a1001",
        understood={
            "order_id": "A1001",
            "password_change_warning": True,
            "warning_sentence": "It asks me to change my password.",
            "created": True,
        },
        reply_kind=InboundMessage.Reply.REQUEST_LINK,
        reply_to="buyer@example.com",
        reply_message_id="desk-reply.1@shop.test",
    )

    page = client_for(agent()).get(f"/admin/compensation/compensationrequest/{request.pk}/change/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "e-mails from the customer" in html.lower()
    assert "Locked account, order a1001" in html
    assert "buyer@example.com" in html
    assert (
        "order A1001; “Change Password” warning: yes; (“It asks me to change my password.”)" in html
    )
    assert "Link to the request (not sent yet)" in html


def test_the_list_shows_the_mail_waiting_for_a_person_by_default() -> None:
    waiting = inbound(outcome=Outcome.NOT_UNDERSTOOD, needs_attention=True, subject="where is it")
    inbound(outcome=Outcome.IGNORED, skip_reason="auto_submitted", subject="Out of office")
    client = client_for(agent())

    default = client.get(LIST)
    everything = client.get(LIST + "?waiting=all")

    assert [m.pk for m in default.context["cl"].result_list] == [waiting.pk]
    assert everything.context["cl"].result_count == 2
    assert "no order of the sender (numbers found: none)" in default.content.decode()


def test_mark_handled_closes_the_mail_and_records_who() -> None:
    user = agent()
    waiting = inbound(outcome=Outcome.RATE_LIMITED, needs_attention=True)
    ignored = inbound(outcome=Outcome.IGNORED)

    response = client_for(user).post(
        LIST,
        {"action": "mark_handled", "_selected_action": [waiting.pk, ignored.pk]},
    )

    assert response.status_code == 302
    waiting.refresh_from_db()
    assert (waiting.needs_attention, waiting.closed_by_id) == (False, user.pk)
    assert waiting.closed_at is not None
    ignored.refresh_from_db()
    assert ignored.closed_at is None  # it was not waiting: nothing to close
    [event] = Event.objects.filter(kind=CompensationEvent.INBOUND_EMAIL_CLOSED)
    assert (event.actor_id, event.data["inbound_message_id"]) == (user.pk, waiting.pk)


def test_staff_without_the_permission_cannot_mark_handled() -> None:
    viewer = staff_user(role=None)
    viewer.user_permissions.add(Permission.objects.get(codename="view_inboundmessage"))
    waiting = inbound(outcome=Outcome.NOT_UNDERSTOOD, needs_attention=True)
    client = client_for(viewer)

    page = client.get(LIST)
    client.post(LIST, {"action": "mark_handled", "_selected_action": [waiting.pk]})

    assert page.status_code == 200
    assert "mark_handled" not in page.content.decode()
    waiting.refresh_from_db()
    assert waiting.needs_attention is True


def test_a_mails_page_is_read_only() -> None:
    message = inbound(outcome=Outcome.NOT_UNDERSTOOD, needs_attention=True)
    page = client_for(agent()).get(f"{LIST}{message.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert "My account is locked." in page.content.decode()
