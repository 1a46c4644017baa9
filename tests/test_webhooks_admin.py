"""Webhook endpoints as managers handle them: the admin (secret shown once, stored sealed),
`manage.py webhook_endpoint_add` (idempotent by URL), and which URLs are accepted."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from compensation.models_webhooks import WebhookEndpoint, WebhookEvent
from compensation.webhooks.addresses import AddressRefused, url_check
from compensation.webhooks.endpoints import secret_open
from inventory.models import Event

from .factories.compensation import agent, manager

pytestmark = pytest.mark.django_db
ENDPOINTS = "/admin/compensation/webhookendpoint/"
URL = "http://127.0.0.1:9/hooks"
SECRET = "whsec_for-the-tests-0123456789"


@pytest.fixture(autouse=True)
def _allow_loopback(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def add_command(*args: str) -> str:
    out = io.StringIO()
    call_command("webhook_endpoint_add", *args, stdout=out)
    return out.getvalue()


def test_a_manager_adds_an_endpoint_and_sees_its_secret_once() -> None:
    staff = logged_in(manager())

    response = staff.post(
        f"{ENDPOINTS}add/",
        {"url": URL, "events": ["request.decided", "replacement.delivered"], "active": "on"},
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    endpoint = WebhookEndpoint.objects.get()
    secret = secret_open(endpoint.secret_sealed)
    assert secret.startswith("whsec_") and len(secret) > 40
    page = response.content.decode()
    assert secret in page
    assert secret not in endpoint.secret_sealed
    assert endpoint.events == ["request.decided", "replacement.delivered"]
    # Never again: not on its page, not in the list, not in the audit trail.
    assert secret not in staff.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()
    assert secret not in staff.get(ENDPOINTS).content.decode()
    created = Event.objects.get(kind="webhook_endpoint_created")
    assert secret not in str(created.data) + created.message


def test_a_typed_secret_is_kept_and_a_new_one_replaces_it() -> None:
    staff = logged_in(manager())
    staff.post(
        f"{ENDPOINTS}add/", {"url": URL, "events": list(WebhookEvent.values), "secret": SECRET}
    )
    endpoint = WebhookEndpoint.objects.get()
    assert secret_open(endpoint.secret_sealed) == SECRET

    response = staff.post(f"{ENDPOINTS}{endpoint.pk}/new-secret/")

    endpoint.refresh_from_db()
    replaced = secret_open(endpoint.secret_sealed)
    assert replaced != SECRET
    assert replaced in response.content.decode()
    assert staff.get(f"{ENDPOINTS}{endpoint.pk}/new-secret/").status_code == 302  # GET: nothing
    endpoint.refresh_from_db()
    assert secret_open(endpoint.secret_sealed) == replaced


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "only http:// and https:// URLs"),
        ("http://user:pw@127.0.0.1/x", "put no user name or password in the URL"),
    ],
)
def test_the_admin_refuses_bad_urls(url: str, message: str) -> None:
    response = logged_in(manager()).post(
        f"{ENDPOINTS}add/", {"url": url, "events": ["request.decided"]}
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert WebhookEndpoint.objects.count() == 0


def test_agents_see_endpoints_but_cannot_change_them() -> None:
    add_command(URL, "--secret", SECRET)
    endpoint = WebhookEndpoint.objects.get()
    staff = logged_in(agent())
    assert staff.get(ENDPOINTS).status_code == 200
    page = staff.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()
    assert URL in page
    assert "New secret" not in page
    assert staff.post(f"{ENDPOINTS}{endpoint.pk}/new-secret/").status_code == 403
    endpoint.refresh_from_db()
    assert secret_open(endpoint.secret_sealed) == SECRET
    assert staff.get(f"{ENDPOINTS}add/").status_code == 403
    assert staff.get("/admin/compensation/webhookdelivery/").status_code == 403


def test_the_command_is_idempotent_by_url_and_never_prints_the_secret() -> None:
    first = add_command(URL, "--secret", SECRET)
    again = add_command(URL, "--secret", SECRET)
    narrower = add_command(URL, "--secret", SECRET, "--events", "request.decided,review.decided")

    assert "created" in first
    assert "unchanged" in again
    assert "updated" in narrower
    assert all(SECRET not in out for out in (first, again, narrower))
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["request.decided", "review.decided"]
    assert secret_open(endpoint.secret_sealed) == SECRET
    assert "updated" in add_command(URL, "--secret", SECRET + "-rotated")
    endpoint.refresh_from_db()
    assert secret_open(endpoint.secret_sealed) == SECRET + "-rotated"
    assert endpoint.events == list(WebhookEvent.values)  # default: every event
    assert WebhookEndpoint.objects.count() == 1


@pytest.mark.parametrize(
    "args",
    [
        [URL, "--secret", "short"],
        [URL, "--secret", SECRET, "--events", "request.decided,order.paid"],
        ["gopher://127.0.0.1/x", "--secret", SECRET],
    ],
)
def test_the_command_refuses_bad_input(args: list[str]) -> None:
    with pytest.raises(CommandError):
        add_command(*args)
    assert WebhookEndpoint.objects.count() == 0


def test_secrets_are_re_encrypted_under_the_newest_key(settings: Any) -> None:
    add_command(URL, "--secret", SECRET)
    old_key = settings.CREDENTIALS_ENCRYPTION_KEYS[0]
    new_key = "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg="
    settings.CREDENTIALS_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_webhook_secrets", stdout=io.StringIO())
    settings.CREDENTIALS_ENCRYPTION_KEYS = [new_key]
    assert secret_open(WebhookEndpoint.objects.get().secret_sealed) == SECRET


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/x", "loopback"),
        ("http://localhost:8000/x", "loopback host"),
        ("http://10.1.2.3/x", "private"),
        ("http://192.168.0.10/x", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[::1]/x", "loopback"),
        ("http://[fe80::1]/x", "link-local"),
        ("http://[::ffff:127.0.0.1]/x", "loopback"),
        ("http://0.0.0.0/x", "private"),
        ("http://100.64.0.1/x", "not public"),
    ],
)
def test_non_public_addresses_are_refused(url: str, reason: str) -> None:
    with pytest.raises(AddressRefused, match=reason):
        url_check(url, allow_private=False)
    url_check(url, allow_private=True)  # the shop's own network, when allowed


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://203.0.113.9/x", "only http:// and https://"),
        ("https://user:pw@93.184.216.34/x", "no user name or password"),
        ("https:///x", "no host"),
        ("http://[::1/x", "not valid"),
    ],
)
def test_malformed_urls_are_refused_even_when_private_hosts_are_allowed(
    url: str, reason: str
) -> None:
    with pytest.raises(AddressRefused, match=reason):
        url_check(url, allow_private=True)


def test_a_public_address_is_accepted() -> None:
    url_check("https://93.184.216.34/hooks", allow_private=False)
