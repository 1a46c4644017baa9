"""The status client over real HTTP against the StatusDouble on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import socket
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from compensation import rules
from compensation.management.commands.demo_status_server import DemoProfiles, demo_resolver
from compensation.models import StatusServiceBreaker
from compensation.status import (
    DbBreaker,
    FetchResult,
    ProfileQuery,
    StatusClient,
    get_status_client,
    parse_profile,
    reset_status_client,
)
from compensation.status.double import (
    StatusDouble,
    garbage,
    hang,
    profile,
    sequence,
    status,
    trickle,
)
from compensation.status.parsing import RETRY_AFTER_MAX, parse_retry_after
from tests.certificates import self_signed
from tests.factories.inventory import AccountFactory

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def double() -> Iterator[StatusDouble]:
    with StatusDouble() as server:
        yield server


def make_client(url: str, **overrides: Any) -> StatusClient:
    options: dict[str, Any] = {
        "base_url": url,
        "connect_timeout": 1.0,
        "read_timeout": 1.0,
        "deadline": 3.0,
        "max_attempts": 3,
        "backoff_base": 0.01,
        "retry_after_cap": 1.0,
        "max_in_flight": 8,
    }
    options.update(overrides)
    return StatusClient(**options)


def query(username: str = "ig_one", user_id: str = "", key: int = 1) -> ProfileQuery:
    return ProfileQuery(key=key, platform="instagram", username=username, user_id=user_id)


def verdict_for(result: FetchResult, *, warning: bool = False) -> rules.Verdict:
    """What the request service does with a fetch: the observation (or None) into the rules."""
    return rules.decide_account(
        rules.AccountFacts(
            baseline=rules.Baseline(
                username="ig_one",
                user_id="1789",
                followers=250,
                interactions={k: 0 for k in rules.INTERACTION_KINDS},
            ),
            observation=result.observation,
            password_change_warning=warning,
            order_placed_at=NOW - timedelta(days=3),
            now=NOW,
        )
    )


def assert_unverified(result: FetchResult, error: str) -> None:
    assert result.observation is None
    assert result.error == error
    verdict = verdict_for(result)
    assert (verdict.decision, verdict.rule) == ("unverified", "status_unavailable")


# --- answers ----------------------------------------------------------------------------------


def test_profile_is_read_and_validated(double: StatusDouble) -> None:
    body = profile(username="IG_One", user_id="1789", state="locked", followers=240, likes=1)
    double.set("instagram", "ig_one", body)
    result = make_client(double.url).fetch(query())
    assert result == FetchResult(
        observation=rules.Observation(
            state="locked",
            username="IG_One",
            user_id="1789",
            followers=240,
            interactions={**{k: 0 for k in rules.INTERACTION_KINDS}, "likes": 1},
        ),
        raw=body,
        error=None,
        attempts=1,
        retry_after=None,
    )
    assert (verdict_for(result).decision, verdict_for(result).rule) == (
        "approved",
        "locked_one_interaction",
    )
    assert double.count("instagram", "ig_one") == 1


def test_missing_and_null_counters_are_unknown(double: StatusDouble) -> None:
    double.set(
        "instagram", "ig_one", profile(state="locked", interactions={"posts": 0, "likes": None})
    )
    result = make_client(double.url).fetch(query())
    assert result.observation is not None
    assert result.observation.interactions == {"posts": 0}
    assert verdict_for(result).rule == "interactions_unknown"


def test_404_is_not_found(double: StatusDouble) -> None:
    result = make_client(double.url).fetch(query("nobody"))
    assert result.observation == rules.Observation(state="not_found")
    assert result.error is None
    assert result.attempts == 1
    assert result.raw == {"error": "profile not found"}
    assert verdict_for(result).rule == "profile_not_found"
    assert double.count("instagram", "nobody") == 1


def test_500_every_time_is_unverified_after_max_attempts(double: StatusDouble) -> None:
    double.set("instagram", "ig_one", status(500, {"error": "boom"}))
    result = make_client(double.url, max_attempts=3).fetch(query())
    assert_unverified(result, "http_500")
    assert result.attempts == 3
    assert result.raw == {"error": "boom"}
    assert double.count("instagram", "ig_one") == 3


def test_503_then_200_succeeds_on_the_second_attempt(double: StatusDouble) -> None:
    double.set("instagram", "ig_one", sequence([status(503), profile(state="locked")]))
    result = make_client(double.url).fetch(query())
    assert result.error is None
    assert result.attempts == 2
    assert result.observation is not None and result.observation.state == "locked"
    assert double.count("instagram", "ig_one") == 2


def test_short_retry_after_is_honoured(double: StatusDouble) -> None:
    double.set(
        "instagram",
        "ig_one",
        sequence([status(429, headers={"Retry-After": "0.4"}), profile(state="locked")]),
    )
    started = time.monotonic()
    result = make_client(double.url, retry_after_cap=1.0).fetch(query())
    elapsed = time.monotonic() - started
    assert result.error is None
    assert result.attempts == 2
    assert result.retry_after is None
    assert elapsed >= 0.4


def test_long_retry_after_ends_the_attempt_at_once(double: StatusDouble) -> None:
    double.set("instagram", "ig_one", status(429, headers={"Retry-After": "120"}))
    started = time.monotonic()
    result = make_client(double.url, retry_after_cap=1.0).fetch(query())
    elapsed = time.monotonic() - started
    assert_unverified(result, "http_429")
    assert result.retry_after == 120.0
    assert result.attempts == 1
    assert elapsed < 0.5
    assert double.count("instagram", "ig_one") == 1


def test_429_without_retry_after_is_retried_with_backoff(double: StatusDouble) -> None:
    double.set("instagram", "ig_one", status(429))
    result = make_client(double.url, max_attempts=2).fetch(query())
    assert_unverified(result, "http_429")
    assert (result.attempts, result.retry_after) == (2, None)
    assert double.count("instagram", "ig_one") == 2


def test_malformed_json_is_invalid_body(double: StatusDouble) -> None:
    double.set("instagram", "ig_one", garbage())
    result = make_client(double.url, max_attempts=2).fetch(query())
    assert_unverified(result, "invalid_body")
    assert result.attempts == 2
    assert isinstance(result.raw, str) and "not json" in result.raw


@pytest.mark.parametrize(
    "body",
    [
        profile(state="banned"),
        profile(state=None),  # type: ignore[arg-type]
        {"platform": "instagram", "username": "ig_one"},
        profile(followers=-1),
        profile(followers="12"),  # type: ignore[arg-type]
        profile(followers=True),
        profile(likes=-1),
        profile(likes=1.5),  # type: ignore[arg-type]
        profile(likes=True),
        {**profile(), "interactions": [1, 2]},
        profile(platform="tiktok"),
        {**profile(), "username": 42},
        [profile()],
        "just a string",
    ],
)
def test_anything_but_the_documented_json_is_invalid_body(double: StatusDouble, body: Any) -> None:
    double.set("instagram", "ig_one", status(200, body))
    result = make_client(double.url, max_attempts=1).fetch(query())
    assert_unverified(result, "invalid_body")
    assert result.raw == body


def test_other_client_errors_are_not_retried(double: StatusDouble) -> None:
    double.set("instagram", "ig_one", status(401, {"error": "bad token"}))
    result = make_client(double.url).fetch(query())
    assert_unverified(result, "http_401")
    assert result.attempts == 1


def test_hanging_response_is_a_read_timeout(double: StatusDouble) -> None:
    double.set("instagram", "ig_one", hang(10))
    started = time.monotonic()
    result = make_client(double.url, read_timeout=0.3, max_attempts=2, deadline=5).fetch(query())
    elapsed = time.monotonic() - started
    assert_unverified(result, "timeout")
    assert result.attempts == 2
    assert 0.6 <= elapsed < 1.5


def test_hang_is_cut_by_the_deadline_across_attempts(double: StatusDouble) -> None:
    double.set("instagram", "ig_one", hang(10))
    started = time.monotonic()
    result = make_client(double.url, read_timeout=2, max_attempts=5, deadline=0.5).fetch(query())
    elapsed = time.monotonic() - started
    assert result.observation is None
    assert result.error in ("timeout", "deadline")
    assert elapsed < 0.5 + 0.4
    assert verdict_for(result).decision == "unverified"


@pytest.mark.timeout(20)  # without the deadline the trickle lasts minutes: fail fast instead
def test_trickling_response_is_stopped_by_the_deadline(double: StatusDouble) -> None:
    # every byte arrives well within the read timeout; only the overall deadline can stop it
    double.set("instagram", "ig_one", trickle(20))
    started = time.monotonic()
    result = make_client(double.url, read_timeout=1.0, deadline=0.6).fetch(query())
    elapsed = time.monotonic() - started
    assert_unverified(result, "deadline")
    assert result.attempts == 1
    assert elapsed < 0.6 + 0.3


def test_oversized_body_is_refused(double: StatusDouble) -> None:
    double.set("instagram", "ig_one", status(200, {**profile(), "padding": "x" * 5000}))
    result = make_client(double.url, max_body_bytes=1024).fetch(query())
    assert_unverified(result, "body_too_large")
    assert result.attempts == 1


def test_refused_connection() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    result = make_client(f"http://127.0.0.1:{port}", max_attempts=2).fetch(query())
    assert_unverified(result, "connection")
    assert result.attempts == 2
    assert time.monotonic() - started < 1.0


# --- what is sent -----------------------------------------------------------------------------


def test_bearer_token_is_sent_and_never_logged(
    double: StatusDouble, caplog: pytest.LogCaptureFixture
) -> None:
    double.set("instagram", "ig_one", status(503))
    client = make_client(double.url, token="s3cret-token", max_attempts=1)
    with caplog.at_level(logging.DEBUG):
        result = client.fetch(query())
    assert result.error == "http_503"
    assert double.authorizations == ["Bearer s3cret-token"]
    assert "s3cret" not in caplog.text
    assert "s3cret" not in repr(client)
    assert "platform=instagram username=ig_one error=http_503" in caplog.text


def test_no_authorization_without_token(double: StatusDouble) -> None:
    make_client(double.url).fetch(query())
    assert double.authorizations == [None]


def test_a_base_url_with_a_path_keeps_it(double: StatusDouble) -> None:
    """A status service mounted under a path (https://host/status) is asked under that path."""
    make_client(f"{double.url}/status/").fetch(query("ig_two", user_id="7"))
    assert double.queries == [("/status/v1/profiles/instagram/ig_two", {"user_id": ["7"]})]


def test_a_certificate_nobody_trusts_is_refused(tmp_path: Path) -> None:
    """Over https the service's certificate is checked (certifi's bundle): a self-signed one
    ends the fetch as a connection failure, and nothing is read from it."""
    cert, key = self_signed(tmp_path, "localhost")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    double = StatusDouble()
    double.serve_tls(context)
    with double:
        double.default = profile(state="locked")
        client = make_client(f"https://localhost:{double.port}", max_attempts=1)
        result = client.fetch(query())
    assert (result.error, result.observation, result.raw) == ("connection", None, None)
    assert double.total_requests == 0


def test_user_id_query_parameter_and_quoted_username(double: StatusDouble) -> None:
    double.set("instagram", "we/ird name?", profile(username="we/ird name?"))
    client = make_client(double.url)
    result = client.fetch(query("we/ird name?", user_id="1789"))
    client.fetch(query("ig_two"))
    assert result.error is None
    assert double.queries == [
        ("/v1/profiles/instagram/we%2Fird%20name%3F", {"user_id": ["1789"]}),
        ("/v1/profiles/instagram/ig_two", {}),
    ]


# --- concurrency ------------------------------------------------------------------------------


def test_fetch_many_is_concurrent_and_bounded(double: StatusDouble) -> None:
    double.latency = 0.02
    for n in range(200):
        double.set("instagram", f"user_{n}", profile(username=f"user_{n}", state="locked"))
    client = make_client(double.url, max_in_flight=16)
    queries = [query(f"user_{n}", key=n) for n in range(200)]
    started = time.monotonic()
    results = client.fetch_many(queries)
    elapsed = time.monotonic() - started
    sequential = 200 * 0.02
    assert sorted(results) == list(range(200))
    assert all(r.error is None and r.observation is not None for r in results.values())
    assert results[7].observation is not None and results[7].observation.username == "user_7"
    assert elapsed < 0.5 * sequential
    assert 2 <= double.max_concurrency <= 16
    assert double.total_requests == 200


def test_fetch_many_of_nothing() -> None:
    assert make_client("http://127.0.0.1:9").fetch_many([]) == {}


def test_fetching_hands_each_result_over_as_it_arrives(double: StatusDouble) -> None:
    """The caller works while the calls run: the quick answer is handed over long before the
    slow one has been answered (a client that waited for every call could not)."""
    double.set("instagram", "quick", profile(username="quick", state="locked"))
    double.set("instagram", "slow", hang(1.5, then=profile(username="slow", state="active")))
    client = make_client(double.url, read_timeout=3.0, deadline=4.0)
    seen: list[tuple[int, str | None]] = []
    handed_over_after: list[float] = []
    started = time.monotonic()
    with client.fetching([query("slow", key=1), query("quick", key=2)]) as arriving:
        for key, result in arriving:
            assert result.observation is not None
            seen.append((key, result.observation.state))
            handed_over_after.append(time.monotonic() - started)
    assert seen == [(2, "locked"), (1, "active")]
    assert handed_over_after[0] < 1.0  # the quick one, while the slow one still hung
    assert handed_over_after[1] >= 1.5


@pytest.mark.django_db
def test_leaving_fetching_early_waits_for_the_calls_started_and_records_them(
    double: StatusDouble,
) -> None:
    """A caller that fails half-way leaves no call running behind it, and the failures seen
    still count for the breaker."""
    double.latency = 0.05
    double.default = status(500)
    client = breaker_client(double.url, Clock())
    queries = [query(f"u{n}", key=n) for n in range(3)]
    with pytest.raises(RuntimeError, match="caller failed"), client.fetching(queries) as arriving:
        next(arriving)
        raise RuntimeError("caller failed")
    answered = double.total_requests
    time.sleep(0.2)
    assert double.total_requests == answered  # nothing was still running
    row = StatusServiceBreaker.objects.get(name="status")
    assert row.consecutive_failures == answered


# --- circuit breaker --------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def breaker_client(url: str, clock: Clock, **overrides: Any) -> StatusClient:
    breaker = DbBreaker(name="status", threshold=3, cooldown=30, clock=clock)
    return make_client(url, max_attempts=1, max_in_flight=1, breaker=breaker, **overrides)


@pytest.mark.django_db
def test_breaker_opens_after_threshold_failures_and_fails_fast(double: StatusDouble) -> None:
    double.default = status(500)
    clock = Clock()
    client = breaker_client(double.url, clock)
    results = client.fetch_many([query(f"u{n}", key=n) for n in range(10)])
    assert double.total_requests == 3
    assert [results[n].error for n in range(10)] == ["http_500"] * 3 + ["circuit_open"] * 7
    assert results[5].attempts == 0
    row = StatusServiceBreaker.objects.get(name="status")
    assert row.consecutive_failures == 3
    assert row.open_until == NOW + timedelta(seconds=30)
    for result in results.values():
        assert verdict_for(result).decision == "unverified"

    # another process (its own client) sees the shared state and does not call either
    other = breaker_client(double.url, clock)
    assert other.fetch(query("u99")).error == "circuit_open"
    assert double.total_requests == 3
    assert StatusServiceBreaker.objects.get(name="status").consecutive_failures == 3


@pytest.mark.django_db
def test_breaker_closes_on_success_after_cooldown(double: StatusDouble) -> None:
    double.default = status(500)
    clock = Clock()
    client = breaker_client(double.url, clock)
    client.fetch_many([query(f"u{n}", key=n) for n in range(3)])
    assert client.fetch(query("u3")).error == "circuit_open"

    clock.now = NOW + timedelta(seconds=30)  # exactly the end of the cooldown: open no more
    double.default = profile(state="locked")
    result = client.fetch(query("u4"))
    assert result.error is None
    row = StatusServiceBreaker.objects.get(name="status")
    assert (row.consecutive_failures, row.open_until) == (0, None)
    assert double.total_requests == 4


@pytest.mark.django_db
def test_half_open_breaker_reopens_on_one_more_failure(double: StatusDouble) -> None:
    double.default = status(503)
    clock = Clock()
    client = breaker_client(double.url, clock)
    client.fetch_many([query(f"u{n}", key=n) for n in range(3)])
    clock.now = NOW + timedelta(seconds=31)
    results = client.fetch_many([query(f"v{n}", key=n) for n in range(5)])
    assert [results[n].error for n in range(5)] == ["http_503"] + ["circuit_open"] * 4
    row = StatusServiceBreaker.objects.get(name="status")
    assert row.consecutive_failures == 4
    assert row.open_until == NOW + timedelta(seconds=61)


@pytest.mark.django_db
def test_success_resets_failures_below_threshold(double: StatusDouble) -> None:
    clock = Clock()
    client = breaker_client(double.url, clock)
    double.default = status(500)
    client.fetch_many([query(f"u{n}", key=n) for n in range(2)])
    assert StatusServiceBreaker.objects.get(name="status").consecutive_failures == 2
    double.default = profile(state="active")
    client.fetch(query("ok"))
    assert StatusServiceBreaker.objects.get(name="status").consecutive_failures == 0
    double.default = status(500)
    client.fetch_many([query(f"w{n}", key=n) for n in range(2)])
    row = StatusServiceBreaker.objects.get(name="status")
    assert (row.consecutive_failures, row.open_until) == (2, None)


@pytest.mark.django_db
def test_not_found_is_a_working_service_and_writes_nothing(
    double: StatusDouble, django_assert_num_queries: Any
) -> None:
    client = breaker_client(double.url, Clock())
    with django_assert_num_queries(1):  # the one breaker read; a healthy service writes nothing
        results = client.fetch_many([query(f"u{n}", key=n) for n in range(5)])
    assert all(r.observation == rules.Observation(state="not_found") for r in results.values())
    assert not StatusServiceBreaker.objects.exists()


# --- no failure costs a customer their compensation -------------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("answer", "error", "options"),
    [
        (status(500), "http_500", {}),
        (status(503, "unavailable"), "http_503", {}),
        (status(429, headers={"Retry-After": "3600"}), "http_429", {}),
        (garbage(), "invalid_body", {}),
        (profile(state="gone"), "invalid_body", {}),
        (hang(5), "timeout", {"read_timeout": 0.2, "max_attempts": 1}),
        (trickle(50), "deadline", {"deadline": 0.3}),
        (status(403), "http_403", {}),
    ],
)
def test_every_failure_is_unverified_never_rejected(
    double: StatusDouble, answer: Any, error: str, options: dict[str, Any]
) -> None:
    double.set("instagram", "ig_one", answer)
    result = make_client(double.url, **options).fetch(query())
    assert_unverified(result, error)
    assert verdict_for(result, warning=True).rule == "password_change_warning"


def test_parse_profile_accepts_the_documented_shape() -> None:
    observation = parse_profile(
        {
            "platform": "Instagram",
            "user_id": 1789,
            "username": "current_name",
            "state": "suspended",
            "followers": None,
            "interactions": None,
        },
        platform="instagram",
    )
    assert observation == rules.Observation(
        state="suspended",
        username="current_name",
        user_id="1789",
        followers=None,
        interactions=None,
    )


# --- the per-process client -------------------------------------------------------------------


@pytest.mark.django_db
def test_get_status_client_comes_from_settings(double: StatusDouble, settings: Any) -> None:
    settings.STATUS_API_URL = double.url
    settings.STATUS_API_TOKEN = "tok"
    settings.STATUS_API_MAX_IN_FLIGHT = 5
    settings.STATUS_API_BREAKER_THRESHOLD = 7
    reset_status_client()
    try:
        client = get_status_client()
        assert get_status_client() is client
        assert (client.base_url, client.max_in_flight) == (double.url, 5)
        assert isinstance(client.breaker, DbBreaker) and client.breaker.threshold == 7
        double.set("instagram", "ig_one", profile(state="locked"))
        assert client.fetch(query()).error is None
        assert double.authorizations == ["Bearer tok"]
    finally:
        reset_status_client()


# --- the demo status service ------------------------------------------------------------------


def test_demo_profiles_file_is_reread_when_it_changes(tmp_path: Any) -> None:
    path = tmp_path / "demo_profiles.json"
    path.write_text('{"instagram/ig_one": ' + json.dumps(profile(state="locked")) + "}")
    profiles = DemoProfiles(path)
    with StatusDouble(resolver=lambda p, u, i: profiles.lookup(p, u)) as server:
        client = make_client(server.url, max_attempts=1)
        first = client.fetch(query("IG_One"))
        assert first.observation is not None and first.observation.state == "locked"
        path.write_text(
            json.dumps(
                {
                    "instagram/ig_one": profile(state="suspended", interactions=None),
                    "instagram/down": {"http_status": 503, "retry_after": 60},
                }
            )
        )
        second = client.fetch(query("ig_one"))
        assert second.observation is not None and second.observation.state == "suspended"
        down = client.fetch(query("down"))
        assert (down.error, down.retry_after) == ("http_503", 60.0)
        path.write_text("{not json")  # a half-written file keeps the previous profiles
        third = client.fetch(query("ig_one"))
        assert third.observation is not None and third.observation.state == "suspended"
    assert DemoProfiles(tmp_path / "missing.json").lookup("instagram", "ig_one") is None


@pytest.mark.django_db(transaction=True)
def test_demo_server_falls_back_to_known_accounts() -> None:
    AccountFactory(username="Shop_Acc", platform_user_id="555", baseline_likes=None)
    with StatusDouble(
        resolver=demo_resolver(DemoProfiles(Path("/nonexistent/demo.json")))
    ) as server:
        client = make_client(server.url, max_attempts=1)
        known = client.fetch(query("shop_acc"))
        by_id = client.fetch(query("renamed", user_id="555"))
        unknown = client.fetch(query("stranger"))
    expected = rules.Observation(
        state="active",
        username="Shop_Acc",
        user_id="555",
        followers=250,
        interactions={k: 0 for k in rules.INTERACTION_KINDS if k != "likes"},
    )
    assert known.observation == expected
    assert by_id.observation == expected
    assert unknown.observation == rules.Observation(state="not_found")


def test_a_failing_resolver_answers_500_not_a_dropped_connection() -> None:
    def broken(platform: str, username: str, user_id: str | None) -> Any:
        raise RuntimeError("database down")

    with StatusDouble(resolver=broken) as server:
        result = make_client(server.url, max_attempts=1).fetch(query())
    assert_unverified(result, "http_500")
    assert result.raw == {"error": "resolver failed"}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Wed, 21 Oct 2099 07:28:00 GMT", RETRY_AFTER_MAX),
        ("9" * 20, RETRY_AFTER_MAX),
        ("Thu, 31 Dec 9999 23:59:59 GMT", RETRY_AFTER_MAX),
        ("-30", 0.0),
        ("Mon, 01 Jan 0001 00:00:00 GMT", 0.0),
        ("1e400", None),
        ("nan", None),
        ("soon™, maybe", None),
        ("Fri, 99 Zzz 2020 99:99:99 GMT", None),
        ("", None),
        ("7", 7.0),
    ],
)
def test_any_retry_after_is_parsed_without_overflow_and_bounded(
    header: str, expected: float | None
) -> None:
    assert parse_retry_after(header) == expected


def test_a_far_future_retry_after_ends_the_fetch_with_a_bounded_delay(
    double: StatusDouble,
) -> None:
    double.set(
        "instagram", "ig_one", status(503, headers={"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"})
    )
    result = make_client(double.url, retry_after_cap=1.0).fetch(query())
    assert_unverified(result, "http_503")
    assert result.retry_after == RETRY_AFTER_MAX
