from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory

from compensation.ratelimit import client_address, parse_rate


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [("10/m", (10, 60)), ("100/h", (100, 3600)), ("5/30s", (5, 30)), ("0", None), ("", None)],
)
def test_parse_rate(rate: str, parsed: tuple[int, int] | None) -> None:
    assert parse_rate(rate) == parsed


def test_parse_rate_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        parse_rate("ten per minute")


def test_without_proxies_the_socket_address_counts(settings: Any) -> None:
    settings.RATE_LIMIT_TRUSTED_PROXIES = 0
    request = RequestFactory().post("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_address(request) == "10.0.0.9"


def test_behind_one_proxy_a_forged_forwarded_for_is_ignored(settings: Any) -> None:
    settings.RATE_LIMIT_TRUSTED_PROXIES = 1
    # The client forged "6.6.6.6"; our proxy appended the address it really saw.
    request = RequestFactory().post(
        "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7"
    )
    assert client_address(request) == "203.0.113.7"


def test_behind_two_proxies(settings: Any) -> None:
    settings.RATE_LIMIT_TRUSTED_PROXIES = 2
    request = RequestFactory().post(
        "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7, 10.0.0.2"
    )
    assert client_address(request) == "203.0.113.7"


def test_missing_forwarded_for_falls_back_to_the_socket(settings: Any) -> None:
    settings.RATE_LIMIT_TRUSTED_PROXIES = 1
    assert client_address(RequestFactory().post("/", REMOTE_ADDR="10.0.0.1")) == "10.0.0.1"
