"""The web form and the JSON API validate with one form base: same limits, same messages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from compensation.forms import ApiSubmissionForm, CompensationRequestForm, FreshLinkForm

from .factories.orders import delivered_line

pytestmark = pytest.mark.django_db

URL = "/api/v1/compensation-requests"
WEB = {
    "email": "a@example.com",
    "order_id": "A1",
    "reason": "account_locked",
    "password_change_warning": "no",
}
API = {"email": "a@example.com", "order_id": "A1", "reason": "Locked"}

# (field, web form value, API value, the one message both give)
SHARED_CASES: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    (
        "email",
        {"email": "not-an-address"},
        {"email": "not-an-address"},
        "Enter a valid e-mail address.",
    ),
    (
        "email",
        {"email": "a\x00@example.com"},
        {"email": "a\x00@example.com"},
        "Enter a valid e-mail address.",
    ),
    (
        "email",
        {"email": "a" * 64 + "@" + "b" * 186 + ".com"},
        {"email": "a" * 64 + "@" + "b" * 186 + ".com"},
        "An e-mail address has at most 254 characters.",
    ),
    (
        "order_id",
        {"order_id": "A" * 65},
        {"order_id": "A" * 65},
        "An order id has at most 64 characters.",
    ),
    (
        "order_id",
        {"order_id": "A\x001"},
        {"order_id": "A\x001"},
        "Null characters are not allowed.",
    ),
    ("order_id", {"order_id": "  "}, {"order_id": "  "}, "This field is required."),
    (
        "skus",
        {"skus": ", ".join(["IG"] * 51)},
        {"lines": ["IG"] * 51},
        "Please list at most 50 products.",
    ),
    (
        "skus",
        {"skus": "S" * 65},
        {"lines": ["S" * 65]},
        "A product SKU has at most 64 characters and no null characters.",
    ),
]


@pytest.mark.parametrize(
    ("field", "web", "api", "message"), SHARED_CASES, ids=[c[3] + c[0] for c in SHARED_CASES]
)
def test_web_form_and_api_give_the_same_message(
    field: str, web: dict[str, Any], api: dict[str, Any], message: str
) -> None:
    web_form = CompensationRequestForm({**WEB, **web})
    api_form = ApiSubmissionForm({**API, **api})
    assert not web_form.is_valid() and not api_form.is_valid()
    api_field = "lines" if field == "skus" else field
    assert web_form.errors == {field: [message]}
    assert api_form.errors_json() == {api_field: [message]}


def test_reason_limits_match_the_web_forms_details() -> None:
    web_form = CompensationRequestForm({**WEB, "details": "x" * 2001})
    api_form = ApiSubmissionForm({**API, "reason": "x" * 2001})
    assert web_form.errors == {"details": ["At most 2000 characters."]}
    assert api_form.errors_json() == {"reason": ["At most 2000 characters."]}
    assert CompensationRequestForm({**WEB, "details": "x" * 2000}).is_valid()
    assert ApiSubmissionForm({**API, "reason": "x" * 2000}).is_valid()


def test_the_fresh_link_form_has_the_same_order_id_limit() -> None:
    form = FreshLinkForm({"order_id": "A" * 65})
    assert form.errors == {"order_id": ["An order id has at most 64 characters."]}


def test_api_types_are_strict_and_missing_is_not_null() -> None:
    form = ApiSubmissionForm({**API, "order_id": 1001})
    assert form.is_valid() and form.cleaned_data["order_id"] == "1001"
    assert form.cleaned_data["password_change_warning"] is False
    assert form.cleaned_data["lines"] == []
    odd = ApiSubmissionForm(
        {"email": ["a@example.com"], "order_id": True, "reason": {"a": 1}, "lines": [1]}
    )
    assert odd.errors_json() == {
        "email": ["This field is required."],
        "order_id": ["This field is required."],
        "reason": ["Tell us briefly what happened."],
        "lines": ["Must be a list of product SKUs."],
    }
    null_warning = ApiSubmissionForm({**API, "password_change_warning": None})
    assert null_warning.errors_json() == {"password_change_warning": ["Must be true or false."]}


def test_the_api_answers_a_shared_limit_with_the_forms_message(client: Client) -> None:
    line = delivered_line()
    body = {"email": line.order.email, "order_id": "A" * 65, "reason": "Locked"}
    response = client.post(URL, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"errors": {"order_id": ["An order id has at most 64 characters."]}}
