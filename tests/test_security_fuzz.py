"""Robustness of the customer entry points against odd input: every answer is a 4xx with a clear
error, never a 500, and nothing is written (no request, no event, no e-mail).

The test client re-raises any exception a view lets through, so a 500 fails these tests loudly.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from compensation.models import CompensationRequest
from inventory.models import Event
from orders.models import OrderLink

from .factories.orders import delivered_line

pytestmark = pytest.mark.django_db
URL = "/api/v1/compensation-requests"
KEYS = ("email", "order_id", "reason", "password_change_warning", "lines")


@pytest.fixture(autouse=True)
def _no_rate_limit(settings: Any) -> None:
    settings.COMPENSATION_RATE_LIMIT = "0"
    cache.clear()


def _written() -> tuple[int, int, int, int]:
    return (
        CompensationRequest.objects.count(),
        Event.objects.count(),
        OrderLink.objects.count(),
        len(mail.outbox),
    )


def _post(client: Client, data: bytes | str, content_type: str = "application/json") -> Any:
    return client.post(URL, data=data, content_type=content_type)


def _assert_clear_4xx(response: Any, allowed: tuple[int, ...] = (400, 404, 413)) -> None:
    assert response.status_code in allowed, (response.status_code, response.content[:300])
    payload = response.json()
    if response.status_code == 404:
        assert payload == {"error": "No order matches this e-mail address and order id."}
    else:
        assert isinstance(payload["errors"], dict) and payload["errors"]
        for messages in payload["errors"].values():
            assert messages and all(isinstance(m, str) and m for m in messages)


# --- deterministic odd bodies --------------------------------------------------------------------
ODD_BODIES: list[tuple[str, bytes, int]] = [
    ("empty", b"", 400),
    ("json null", b"null", 400),
    ("json list", b"[1, 2]", 400),
    ("json string", b'"hello"', 400),
    ("json number", b"42", 400),
    ("not utf-8", b"\xff\xfe\xfd{}", 400),
    ("latin-1 json", '{"email": "é@x.com"}'.encode("latin-1"), 400),
    ("truncated", b'{"email": "a@b.co", ', 400),
    ("deeply nested list", b"[" * 50_000 + b"]" * 50_000, 413),
    ("deeply nested under limit", b"[" * 20_000 + b"]" * 20_000, 400),
    ("huge integer", b'{"order_id": ' + b"9" * 5_000 + b"}", 400),
    ("huge body", b'{"reason": "' + b"x" * (3 * 1024 * 1024) + b'"}', 413),
    ("body just over the cap", b'{"reason": "' + b"x" * (64 * 1024) + b'"}', 413),
    ("NaN", b'{"email": NaN, "order_id": Infinity, "reason": -Infinity}', 400),
    ("nested objects", json.dumps({k: {"a": {"b": [k]}} for k in KEYS}).encode(), 400),
    (
        "numbers as strings",
        json.dumps(
            {
                "email": 5,
                "order_id": "1001",
                "reason": 7,
                "password_change_warning": "false",
                "lines": "1",
            }
        ).encode(),
        400,
    ),
    ("booleans everywhere", json.dumps({k: True for k in KEYS}).encode(), 400),
    ("nulls everywhere", json.dumps({k: None for k in KEYS}).encode(), 400),
    (
        "very long e-mail",
        json.dumps(
            {"email": "a" * 64 + "@" + "b" * 250 + ".com", "order_id": "A1", "reason": "x"}
        ).encode(),
        400,
    ),
    (
        "unicode domain too long",
        json.dumps({"email": "a@" + "é" * 80 + ".com", "order_id": "A1", "reason": "x"}).encode(),
        400,
    ),
    (
        "very long order id",
        json.dumps({"email": "a@b.co", "order_id": "A" * 10_000, "reason": "x"}).encode(),
        400,
    ),
    (
        "lines with 10k entries",
        json.dumps(
            {"email": "a@b.co", "order_id": "A1", "reason": "x", "lines": ["S"] * 10_000}
        ).encode(),
        400,
    ),
    (
        "lines with 10k distinct skus",
        json.dumps(
            {
                "email": "a@b.co",
                "order_id": "A1",
                "reason": "x",
                "lines": [f"SKU-{i}" for i in range(10_000)],
            }
        ).encode(),
        413,
    ),
    (
        "lines with a long sku",
        json.dumps(
            {"email": "a@b.co", "order_id": "A1", "reason": "x", "lines": ["S" * 65]}
        ).encode(),
        400,
    ),
    (
        "lines of objects",
        json.dumps(
            {"email": "a@b.co", "order_id": "A1", "reason": "x", "lines": [{"sku": "S"}]}
        ).encode(),
        400,
    ),
    ("unknown keys", json.dumps({"email": "a@b.co", "__proto__": 1}).encode(), 400),
]


@pytest.mark.parametrize(("name", "body", "status"), ODD_BODIES, ids=[b[0] for b in ODD_BODIES])
def test_odd_bodies_get_a_clear_4xx_and_write_nothing(
    client: Client, name: str, body: bytes, status: int
) -> None:
    delivered_line()
    before = _written()
    response = _post(client, body)
    _assert_clear_4xx(response)
    assert response.status_code == status
    assert _written() == before


@pytest.mark.parametrize(
    "field",
    ["order_id", "reason", "lines"],
)
def test_null_bytes_on_a_matching_order_are_a_field_error(client: Client, field: str) -> None:
    """PostgreSQL cannot store NUL in text: before the fix this was a 500 there (and a stored
    request with a NUL in it on SQLite)."""
    line = delivered_line()
    body: dict[str, Any] = {
        "email": line.order.email,
        "order_id": line.order.order_id,
        "reason": "Locked",
        "lines": [line.product.sku],
    }
    body[field] = {
        "order_id": line.order.order_id + "\x00",
        "reason": "Locked\x00 out",
        "lines": [line.product.sku + "\x00"],
    }[field]
    before = _written()
    response = _post(client, json.dumps(body))
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert _written() == before


def test_null_byte_in_email_is_a_field_error(client: Client) -> None:
    line = delivered_line()
    body = {"email": line.order.email + "\x00", "order_id": line.order.order_id, "reason": "x"}
    before = _written()
    response = _post(client, json.dumps(body))
    assert response.status_code == 400
    assert response.json() == {"errors": {"email": ["Enter a valid e-mail address."]}}
    assert _written() == before


def test_fifty_lines_are_accepted_but_fifty_one_are_refused(client: Client) -> None:
    line = delivered_line()
    base = {"email": line.order.email, "order_id": line.order.order_id, "reason": "Locked"}
    refused = _post(client, json.dumps({**base, "lines": [line.product.sku] * 51}))
    assert refused.status_code == 400
    assert refused.json() == {"errors": {"lines": ["Please list at most 50 products."]}}
    assert CompensationRequest.objects.count() == 0
    accepted = _post(client, json.dumps({**base, "lines": [line.product.sku] * 50}))
    assert accepted.status_code == 202


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "",
    ],
)
def test_wrong_content_type_with_a_non_json_body(client: Client, content_type: str) -> None:
    delivered_line()
    before = _written()
    response = _post(client, "email=a%40b.co&order_id=A1", content_type=content_type)
    _assert_clear_4xx(response, allowed=(400,))
    assert _written() == before


# --- property-based: any JSON object made of the five keys and odd values -------------------------
_odd_text = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(
        [
            "\x00",
            "a\x00@b.co",
            "‮",
            "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
            "' OR 1=1 --",
            "<script>",
            "%00",
            "../../etc/passwd",
            " " * 100,
            "\ud7ff",
            "A" * 70,
        ]
    ),
)
_json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False),
    _odd_text,
)
_json_value = st.recursive(
    _json_scalar,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(max_size=10), children, max_size=5),
    ),
    max_leaves=20,
)
_bodies = st.dictionaries(
    st.one_of(st.sampled_from(KEYS), st.text(max_size=12)), _json_value, max_size=7
)


@hsettings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=_bodies)
def test_fuzzed_json_objects_never_500_and_write_nothing(
    client: Client, body: dict[str, Any]
) -> None:
    before = _written()
    response = _post(client, json.dumps(body))
    _assert_clear_4xx(response)
    assert _written() == before


@hsettings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=st.binary(max_size=300))
def test_fuzzed_raw_bytes_never_500(client: Client, raw: bytes) -> None:
    before = _written()
    response = _post(client, raw)
    _assert_clear_4xx(response)
    assert _written() == before


# --- the GET detail endpoint with odd ids --------------------------------------------------------
ODD_IDS = [
    "0",
    "-1",
    "not-a-uuid",
    "%00",
    "a%00b",
    "%ff%fe",
    "x" * 5_000,
    "%F0%9F%98%80",
    "00000000-0000-0000-0000-000000000000",
    "{12345678-1234-5678-1234-567812345678}",
    "urn:uuid:12345678-1234-5678-1234-567812345678",
    "12345678123456781234567812345678",
    "..%252F..%252Fadmin",
    "' OR '1'='1",
]


@pytest.mark.parametrize("request_id", ODD_IDS)
def test_detail_with_odd_ids_is_a_json_404(client: Client, request_id: str) -> None:
    response = client.get(f"{URL}/{request_id}")
    assert response.status_code == 404
    assert response.json() == {"error": "No such compensation request."}


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_are_refused(client: Client, method: str) -> None:
    delivered_line()
    before = _written()
    response = getattr(client, method)(URL, data="{}", content_type="application/json")
    assert response.status_code == 405
    assert _written() == before


# --- the web form and the fresh-link form ------------------------------------------------------
FORM_CASES: list[dict[str, str]] = [
    {},
    {"email": "a\x00@b.co", "order_id": "A1", "reason": "other", "password_change_warning": "no"},
    {"email": "a@b.co", "order_id": "A1\x00", "reason": "other", "password_change_warning": "no"},
    {
        "email": "a@b.co",
        "order_id": "A1",
        "reason": "other",
        "password_change_warning": "no",
        "details": "x\x00",
    },
    {
        "email": "a@b.co",
        "order_id": "A1",
        "reason": "other",
        "password_change_warning": "no",
        "skus": "S\x00",
    },
    {
        "email": "a@b.co",
        "order_id": "A" * 10_000,
        "reason": "other",
        "password_change_warning": "no",
    },
    {
        "email": "a" * 300 + "@b.co",
        "order_id": "A1",
        "reason": "other",
        "password_change_warning": "no",
    },
    {"email": "a@b.co", "order_id": "A1", "reason": "\x00", "password_change_warning": "maybe"},
    {
        "email": "a@b.co",
        "order_id": "A1",
        "reason": "other",
        "password_change_warning": "no",
        "skus": ",".join(f"S{i}" for i in range(10_000)),
    },
    {
        "email": "a@b.co",
        "order_id": "A1",
        "reason": "other",
        "password_change_warning": "no",
        "details": "x" * 5_000,
    },
]


@pytest.mark.parametrize("data", FORM_CASES)
def test_form_with_odd_input_is_a_4xx_and_writes_nothing(
    client: Client, data: dict[str, str]
) -> None:
    line = delivered_line()
    # The real order and e-mail where the case does not replace them, so only the odd field
    # stands between the input and a stored request.
    real = {"email": line.order.email, "order_id": line.order.order_id}
    posted = {
        **data,
        **{
            k: v
            for k, v in real.items()
            if k in data and "\x00" not in data[k] and len(data[k]) < 100
        },
    }
    before = _written()
    response = client.post("/", posted)
    assert response.status_code in (400, 404), response.status_code
    assert _written() == before


def test_form_with_non_utf8_bytes_is_a_4xx(client: Client) -> None:
    delivered_line()
    before = _written()
    response = client.post(
        "/",
        data=b"email=%ff%fe&order_id=\xff\xfe&reason=other&password_change_warning=no",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code in (400, 404)
    assert _written() == before


@pytest.mark.parametrize("order_id", ["", "\x00", "A\x00", "A" * 10_000, "é" * 65, "%00"])
def test_fresh_link_form_with_odd_order_ids_writes_nothing(client: Client, order_id: str) -> None:
    delivered_line()
    before = _written()
    response = client.post("/orders/new-link/", {"order_id": order_id})
    assert response.status_code in (200, 400)
    assert response["Cache-Control"].count("no-store") == 1
    assert _written() == before


@pytest.mark.parametrize(
    "token",
    ["x", "%00", "a" * 5_000, "%F0%9F%98%80", "..%252F..", "e30:1abc:xyz", "null"],
)
def test_order_page_with_odd_tokens_is_a_private_404(client: Client, token: str) -> None:
    strict = Client(enforce_csrf_checks=True)
    for response in (
        client.get(f"/orders/link/{token}/"),
        client.post(f"/orders/link/{token}/"),
        strict.post(f"/orders/link/{token}/"),
    ):
        assert response.status_code in (403, 404)
        assert "no-store" in response["Cache-Control"]
        assert response["Referrer-Policy"] == "same-origin"
