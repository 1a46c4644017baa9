"""Staff login is throttled (django-axes): per username and per client address; the right
password does not get through a lockout; a success before the limit resets the count."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client

LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def staff(db: None) -> object:
    return get_user_model().objects.create_user(
        username="agent", password="right-password-123", is_staff=True
    )


def _login(client: Client, username: str, password: str, address: str = "10.0.0.1") -> int:
    response = client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)
    return response.status_code


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_the_right_password_is_refused_after_too_many_wrong_ones(staff: object, settings) -> None:
    client = Client()
    limit = settings.AXES_FAILURE_LIMIT
    codes = [_login(client, "agent", f"wrong-{i}") for i in range(30)]
    assert codes[: limit - 1] == [200] * (limit - 1)  # the login form again, with an error
    assert set(codes[limit:]) == {429}
    assert _login(client, "agent", "right-password-123") == 429
    assert not _logged_in(client)


def test_one_username_is_locked_from_every_address(staff: object, settings) -> None:
    for i in range(settings.AXES_FAILURE_LIMIT):
        _login(Client(), "agent", "wrong", address=f"10.0.1.{i}")
    client = Client()
    assert _login(client, "agent", "right-password-123", address="10.0.2.1") == 429
    assert not _logged_in(client)


def test_one_address_is_locked_for_every_username(staff: object, settings) -> None:
    for i in range(settings.AXES_FAILURE_LIMIT):
        _login(Client(), f"guess{i}", "wrong", address="10.0.3.3")
    client = Client()
    assert _login(client, "agent", "right-password-123", address="10.0.3.3") == 429
    assert not _logged_in(client)
    other = Client()
    assert _login(other, "agent", "right-password-123", address="10.0.3.4") == 302
    assert _logged_in(other)


def test_a_success_before_the_limit_resets_the_count(staff: object, settings) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(Client(), "agent", "wrong")
    client = Client()
    assert _login(client, "agent", "right-password-123") == 302
    assert _logged_in(client)
    assert not AccessAttempt.objects.filter(username="agent").exists()
