"""Event counters shared by every process of every node, kept in Django's cache.

/metrics is served by whichever web process the scraper reaches, while status checks and
e-mails happen in the task cluster's processes, possibly on other machines. Counting in the shared
cache (Redis in production, `CACHE_URL`) makes every node's /metrics show the desk-wide totals
without Prometheus' multiprocess mode. With the local-memory cache of a development setup each
process counts for itself. Counters restart at 0 when Redis is flushed or restarted; Prometheus'
`rate()`/`increase()` handle counter resets.

Recording never fails the caller: a cache outage loses a count, never an answer or a check.
The label values are fixed sets, so the keys are known in advance and read with one `get_many`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.core.cache import cache

logger = logging.getLogger(__name__)

PREFIX = "health:v1"

# --- HTTP answers -----------------------------------------------------------------------------
AREAS = ("api", "customer", "order_page", "admin", "health", "static", "other")
OUTCOMES = ("success", "redirect", "client_error", "rate_limited", "server_error")

# --- status-service calls (one per attempt) ----------------------------------------------------
STATUS_RESULTS = (
    "ok",  # a valid answer, including "not found"
    "timeout",
    "connection",
    "rate_limited",
    "server_error",
    "client_error",
    "invalid_body",
    "body_too_large",
    "deadline",
)
# Upper bounds in seconds (Prometheus `le`), the status client's timeouts are a few seconds.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# --- e-mails ----------------------------------------------------------------------------------
EMAIL_RESULTS = ("sent", "failed")


def http_key(area: str, outcome: str) -> str:
    return f"{PREFIX}:http:{area}:{outcome}"


def status_key(result: str) -> str:
    return f"{PREFIX}:status:{result}"


def latency_bucket_key(index: int) -> str:
    """Bucket `index` of LATENCY_BUCKETS; len(LATENCY_BUCKETS) is +Inf (not cumulative here)."""
    return f"{PREFIX}:status_latency:bucket:{index}"


LATENCY_SUM_MS_KEY = f"{PREFIX}:status_latency:sum_ms"


def email_key(result: str) -> str:
    return f"{PREFIX}:email:{result}"


def all_keys() -> list[str]:
    keys = [http_key(a, o) for a in AREAS for o in OUTCOMES]
    keys += [status_key(r) for r in STATUS_RESULTS]
    keys += [latency_bucket_key(i) for i in range(len(LATENCY_BUCKETS) + 1)]
    keys += [LATENCY_SUM_MS_KEY]
    keys += [email_key(r) for r in EMAIL_RESULTS]
    return keys


def _incr(key: str, amount: int = 1) -> None:
    try:
        cache.incr(key, amount)
    except ValueError:  # not there yet: create it (add is atomic), else someone else just did
        if not cache.add(key, amount, timeout=None):
            cache.incr(key, amount)


def _record(pairs: Iterable[tuple[str, int]]) -> None:
    try:
        for key, amount in pairs:
            if amount:
                _incr(key, amount)
    except Exception:  # the cache is down: lose the count, keep the caller's work
        logger.debug("metrics counter not recorded", exc_info=True)


def read_all() -> dict[str, int]:
    """Every counter (0 where never counted); raises if the cache is unreachable."""
    values = cache.get_many(all_keys())
    return {key: int(values.get(key) or 0) for key in all_keys()}


# --- recording --------------------------------------------------------------------------------


def outcome_of(status_code: int) -> str:
    if status_code == 429:
        return "rate_limited"
    if status_code >= 500:
        return "server_error"
    if status_code >= 400:
        return "client_error"
    if status_code >= 300:
        return "redirect"
    return "success"


def http_answer_observed(*, area: str, status_code: int) -> None:
    _record([(http_key(area if area in AREAS else "other", outcome_of(status_code)), 1)])


def status_result_of(error: str | None) -> str:
    if error is None:
        return "ok"
    if error == "http_429":
        return "rate_limited"
    if error.startswith("http_5"):
        return "server_error"
    if error.startswith("http_"):
        return "client_error"
    return error if error in STATUS_RESULTS else "connection"


def status_call_observed(*, seconds: float, error: str | None) -> None:
    """One attempt of the status client: its result and how long it took (headers and body)."""
    status_calls_observed([(seconds, error)])


def status_calls_observed(attempts: Iterable[tuple[float, str | None]]) -> None:
    """Many attempts (seconds, error) at once, one increment per counter: the status client
    reports a whole batch after it (one cache round trip per counter, not three per call)."""
    totals: dict[str, int] = {}
    for seconds, error in attempts:
        bucket = next(
            (i for i, bound in enumerate(LATENCY_BUCKETS) if seconds <= bound),
            len(LATENCY_BUCKETS),
        )
        for key, amount in (
            (status_key(status_result_of(error)), 1),
            (latency_bucket_key(bucket), 1),
            (LATENCY_SUM_MS_KEY, max(0, round(seconds * 1000))),
        ):
            totals[key] = totals.get(key, 0) + amount
    _record(totals.items())


def emails_observed(*, sent: int, failed: int) -> None:
    _record([(email_key("sent"), sent), (email_key("failed"), failed)])
