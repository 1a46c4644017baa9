"""Order admin: requests and links on the order page; managers revoke links, agents cannot."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from compensation.models import CompensationRequest
from compensation.services.roles import MANAGERS, SUPPORT_AGENTS, roles_ensure
from inventory.models import Event
from orders.links import order_link_issue, order_link_resolve
from orders.models import OrderLink

from .factories.orders import delivered_line

pytestmark = pytest.mark.django_db


def staff(role: str) -> Client:
    roles_ensure()
    user = User.objects.create_user(username=role.replace(" ", "_"), password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


def test_order_page_lists_its_requests_and_links() -> None:
    line = delivered_line()
    request = CompensationRequest.objects.create(
        order=line.order,
        email=line.order.email,
        reason="locked",
        password_change_warning=False,
        received_at=timezone.now(),
    )
    order_link_issue(order=line.order, now=timezone.now())
    page = staff(MANAGERS).get(f"/admin/orders/order/{line.order.pk}/change/").content.decode()
    assert f"/admin/compensation/compensationrequest/{request.pk}/change/" in page
    link = OrderLink.objects.get()
    assert f'id="order-link-{link.pk}"' in page and "never" in page  # created, last used
    assert link.token_hash not in page


def test_manager_revokes_a_link_and_it_stops_working() -> None:
    line = delivered_line()
    now = timezone.now()
    token = order_link_issue(order=line.order, now=now)
    link = OrderLink.objects.get()
    response = staff(MANAGERS).post(
        "/admin/orders/orderlink/", {"action": "revoke_links", "_selected_action": [link.pk]}
    )
    assert response.status_code == 302
    link.refresh_from_db()
    assert link.revoked_at is not None
    assert order_link_resolve(token=token, now=now + timedelta(seconds=1)) is None
    assert Event.objects.filter(kind="link_revoked", order=line.order).count() == 1


def test_agent_cannot_revoke_links() -> None:
    line = delivered_line()
    order_link_issue(order=line.order, now=timezone.now())
    link = OrderLink.objects.get()
    response = staff(SUPPORT_AGENTS).post(
        "/admin/orders/orderlink/", {"action": "revoke_links", "_selected_action": [link.pk]}
    )
    assert response.status_code == 403
    link.refresh_from_db()
    assert link.revoked_at is None
    assert not Event.objects.filter(kind="link_revoked").exists()
