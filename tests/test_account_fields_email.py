"""The stock import checks a million e-mail addresses with its own copy of Django's e-mail check
(inventory/account_fields.py: domain verdicts remembered, pattern compiled once). It must give
exactly Django's answers."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from inventory.account_fields import _StockEmailValidator


def _django_says(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def _ours_says(check: _StockEmailValidator, value: str) -> bool:
    try:
        check(value)
    except ValidationError:
        return False
    return True


EXAMPLES = [
    "a@b.co",
    "first.last@mailbox.example",
    "user+tag@sub.domain.example",
    '"quoted user"@example.com',
    "x@localhost",
    "x@[127.0.0.1]",
    "x@[::1]",
    "x@-bad.example",
    "x@bad-.example",
    "no-at-sign",
    "@example.com",
    "user@",
    "a@b@c.example",
    "späß@example.com",
    "user@bücher.example",
    "user@exa mple.com",
    "x" * 320 + "@e.com",
    "",
]


@pytest.mark.parametrize("value", EXAMPLES)
def test_same_answer_as_django_on_known_cases(value: str) -> None:
    check = _StockEmailValidator()
    assert _ours_says(check, value) == _django_says(value)
    assert _ours_says(check, value) == _django_says(value)  # and again, from the domain memory


@settings(max_examples=300, deadline=None)
@given(
    user=st.text(min_size=0, max_size=12),
    domain=st.sampled_from(["example.com", "bücher.example", "-x.example", "[10.0.0.1]", "a"])
    | st.text(min_size=0, max_size=12),
)
def test_same_answer_as_django_on_generated_addresses(user: str, domain: str) -> None:
    value = f"{user}@{domain}"
    check = _StockEmailValidator()
    assert _ours_says(check, value) == _django_says(value)
    assert _ours_says(check, value) == _django_says(value)
