"""Answers of the status service that are legal HTTP but odd, as an adversary (or a broken
upstream) would send them. Each must end in a decision or in `unverified` with a next check no
later than the configured maximum, never in a crashed task or a request checking for ever."""

from __future__ import annotations

from typing import Any

FAR_FUTURE_DATE = "Wed, 21 Oct 2099 07:28:00 GMT"


def _profile(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "platform": "instagram",
        "user_id": None,
        "username": None,  # filled in by the caller
        "state": "locked",
        "followers": 250,
        "interactions": {
            "posts": 0,
            "reposts": 0,
            "comments": 0,
            "likes": 0,
            "follows": 0,
            "messages": 0,
        },
    }
    body.update(overrides)
    return body


def _with_counter(**counters: Any) -> dict[str, Any]:
    body = _profile()
    body["interactions"] = {**body["interactions"], **counters}
    return body


# name -> (HTTP status, body (dict/str/bytes), headers). Bodies with "username": None get the
# account's username filled in.
ODD_ANSWERS: dict[str, tuple[int, Any, dict[str, str]]] = {
    "retry_after_far_future_date": (503, {"error": "busy"}, {"Retry-After": FAR_FUTURE_DATE}),
    "retry_after_20_digits": (429, {"error": "slow down"}, {"Retry-After": "9" * 20}),
    "retry_after_negative": (503, None, {"Retry-After": "-30"}),
    "retry_after_inf": (503, None, {"Retry-After": "1e400"}),
    "retry_after_nan": (503, None, {"Retry-After": "nan"}),
    "retry_after_year_1": (503, None, {"Retry-After": "Mon, 01 Jan 0001 00:00:00 GMT"}),
    "retry_after_garbage": (503, None, {"Retry-After": "soon™, maybe"}),
    "likes_10_to_the_12": (200, _with_counter(likes=10**12), {}),
    "followers_10_to_the_30": (200, _profile(followers=10**30), {}),
    "followers_negative": (200, _profile(followers=-5), {}),
    "followers_wrong_type": (200, _profile(followers="many"), {}),
    "likes_float": (200, _with_counter(likes=1.5), {}),
    "likes_true": (200, _with_counter(likes=True), {}),
    "interactions_a_list": (200, _profile(interactions=[1, 2, 3]), {}),
    "state_a_number": (200, _profile(state=42), {}),
    "username_with_nul": (200, _profile(username="bad\u0000name"), {}),
    "username_lone_surrogate": (200, b'{"state": "locked", "username": "\\ud800"}', {}),
    "user_id_huge_number": (200, _profile(user_id=10**40), {}),
    "number_of_5000_digits": (200, b'{"state": "locked", "followers": ' + b"9" * 5000 + b"}", {}),
    "nested_30000_deep": (200, b"[" * 30000 + b"]" * 30000, {}),
    "json_null": (200, b"null", {}),
    "empty_200": (200, b"", {}),
    "redirect": (302, None, {"Location": "http://127.0.0.1:9/elsewhere"}),
    "teapot": (418, {"error": "I'm a teapot"}, {}),
}
