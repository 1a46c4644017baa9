"""The one outbound HTTP client: public profiles from the status service (docs/status-service.md).

- one urllib3 connection pool sized to `max_in_flight`, at most `max_in_flight` calls in
  flight per process (a semaphore), `fetch_many` runs them concurrently in threads (`workers`);
- per attempt (connect, read) timeouts, and an overall deadline per fetch (all attempts and the
  body): the body is streamed and the clock checked between reads, so a trickling server cannot
  hold a worker; bodies over `max_body_bytes` are refused;
- retries with exponential backoff and jitter for 5xx, 429, timeouts, refused connections and
  invalid bodies; a `Retry-After` up to `retry_after_cap` is slept, a longer one ends the fetch at
  once with `FetchResult.retry_after` set (the caller re-checks later);
- what an answer means is `parsing`'s business; the circuit breaker shared by every process is
  `breaker`'s (its database work runs in the calling thread only, before and after a batch).

Nothing here logs more than platform, username, error and attempt count (no token, no URL query).
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import certifi
import urllib3
import urllib3.exceptions
from django.conf import settings

from compensation import rules
from compensation.health.counters import status_calls_observed
from compensation.status.breaker import BatchTrip, Breaker, DbBreaker, NullBreaker
from compensation.status.parsing import Answer, interpret_answer
from compensation.status.workers import Workers

logger = logging.getLogger(__name__)

DEFAULT_DEMO_URL = "http://127.0.0.1:8001"
MAX_BODY_BYTES = 64 * 1024

# Failures worth another attempt (besides every 5xx). Every failure counts for the breaker.
RETRYABLE = frozenset({"timeout", "connection", "invalid_body", "http_429"})


@dataclass(frozen=True)
class ProfileQuery:
    key: int
    platform: str
    username: str
    user_id: str = ""


@dataclass(frozen=True)
class FetchResult:
    # None: the service could not be read (`error` says why) -> rules: status_unavailable.
    observation: rules.Observation | None
    # The body as received (parsed JSON, or text truncated to 500 characters), for evidence.
    raw: Any
    # "timeout" | "connection" | "http_429" | "http_500".."http_599" | "http_4xx" codes |
    # "invalid_body" | "body_too_large" | "deadline" | "circuit_open"; None on success.
    error: str | None
    attempts: int
    # Set when a Retry-After longer than the cap ended the fetch: re-check after that many seconds.
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.observation is not None


class _Deadline(Exception):
    pass


class _TooLarge(Exception):
    pass


class StatusClient:
    def __init__(
        self,
        *,
        base_url: str,
        token: str = "",
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        deadline: float = 8.0,
        max_attempts: int = 3,
        backoff_base: float = 0.2,
        retry_after_cap: float = 2.0,
        max_in_flight: int = 32,
        breaker: Breaker | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        self.deadline = float(deadline)
        self.max_attempts = max(1, int(max_attempts))
        self.backoff_base = float(backoff_base)
        self.retry_after_cap = float(retry_after_cap)
        self.max_in_flight = max(1, int(max_in_flight))
        self.breaker: Breaker = breaker if breaker is not None else NullBreaker()
        self.max_body_bytes = int(max_body_bytes)
        self._in_flight = threading.BoundedSemaphore(self.max_in_flight)
        # urllib3 directly (what requests runs on): half the CPU per call of a requests.Session,
        # and no proxies or .netrc credentials picked up from the environment. Certificates are
        # checked against the same bundle requests uses. One host, so its connection pool itself,
        # not a PoolManager, which parses the URL and looks the pool up again on every call
        # (a quarter of the client's CPU per call).
        base = urlsplit(self.base_url)
        tls: dict[str, Any] = {"ca_certs": certifi.where()} if base.scheme == "https" else {}
        self._pool = urllib3.connection_from_url(
            self.base_url, maxsize=self.max_in_flight, block=True, **tls
        )
        self._base_path = base.path
        self._headers = {"Accept": "application/json", "User-Agent": "compensation-desk"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    def __repr__(self) -> str:  # never shows the token
        return f"StatusClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._pool.close()

    # --- public -------------------------------------------------------------------------------
    def fetch(self, query: ProfileQuery) -> FetchResult:
        return self.fetch_many([query])[query.key]

    def fetch_many(self, queries: Iterable[ProfileQuery]) -> dict[int, FetchResult]:
        """Fetch every query, at most `max_in_flight` at once (see `fetching`)."""
        with self.fetching(queries) as arriving:
            return dict(arriving)

    @contextlib.contextmanager
    def fetching(
        self, queries: Iterable[ProfileQuery]
    ) -> Iterator[Iterator[tuple[int, FetchResult]]]:
        """Start every query's fetch at once (at most `max_in_flight` in flight) and give the
        results as they arrive, as (key, result): the caller works while the calls run. Leaving
        the block waits for every call started. Breaker DB work happens in the calling thread:
        one read before, at most a few writes after."""
        queries = list(queries)
        if not queries:
            yield iter(())
            return
        before = self.breaker.state()
        trip = BatchTrip(before, self.breaker.threshold)
        observed: list[tuple[float, str | None]] = []  # (seconds, error) of every attempt
        refused: list[int] = []  # keys the open circuit kept from being called

        def run(query: ProfileQuery) -> tuple[int, FetchResult]:
            if not trip.allows():
                refused.append(query.key)
                return query.key, FetchResult(None, None, "circuit_open", 0)
            result = self._fetch_one(query, trip, observed)
            trip.outcome(result.error)
            return query.key, result

        workers: Workers[ProfileQuery, tuple[int, FetchResult]] | None = None
        if len(queries) == 1:
            arriving: Iterator[tuple[int, FetchResult]] = map(run, queries)
        else:
            workers = Workers(run, queries, threads=self.max_in_flight, name="status")
            arriving = workers.arriving()
        try:
            yield arriving
        finally:
            if workers is not None:
                workers.stop()
            status_calls_observed(observed)  # the metrics, once for the batch
            if refused:
                logger.warning("status service circuit open: %d checks not attempted", len(refused))
            self.breaker.record(
                before=before, success_seen=trip.success_seen, trailing_failures=trip.trailing
            )

    # --- one profile ----------------------------------------------------------------------------
    def _url(self, query: ProfileQuery) -> str:
        """The profile's path on the service's host (under the base URL's own path, if any)."""
        platform, username = quote(query.platform, safe=""), quote(query.username, safe="")
        return f"{self._base_path}/v1/profiles/{platform}/{username}"

    def _fetch_one(
        self, query: ProfileQuery, trip: BatchTrip, observed: list[tuple[float, str | None]]
    ) -> FetchResult:
        deadline_at = time.monotonic() + self.deadline
        attempt = Answer(None, None, "deadline")
        attempts = 0
        while attempts < self.max_attempts:
            if attempts and not trip.allows():
                break  # the breaker tripped meanwhile: stop retrying, keep the last error
            attempts += 1
            attempt = self._attempt(query, deadline_at, observed)
            if not _retryable(attempt.error):
                break
            if attempt.retry_after is not None and attempt.retry_after > self.retry_after_cap:
                break  # a long Retry-After: give up now, the caller re-checks later
            if attempts >= self.max_attempts:
                break
            pause = (
                attempt.retry_after
                if attempt.retry_after is not None
                else self.backoff_base * (2 ** (attempts - 1)) * random.uniform(0.5, 1.5)
            )
            if time.monotonic() + pause >= deadline_at:
                break
            time.sleep(pause)
        retry_after = attempt.retry_after
        if retry_after is not None and retry_after <= self.retry_after_cap:
            retry_after = None  # honoured already
        result = FetchResult(attempt.observation, attempt.raw, attempt.error, attempts, retry_after)
        if result.error is not None:
            logger.warning(
                "status check failed platform=%s username=%s error=%s attempts=%d",
                query.platform,
                query.username,
                result.error,
                attempts,
            )
        return result

    def _attempt(
        self, query: ProfileQuery, deadline_at: float, observed: list[tuple[float, str | None]]
    ) -> Answer:
        remaining = deadline_at - time.monotonic()
        if remaining <= 0:
            return Answer(None, None, "deadline")
        if not self._in_flight.acquire(timeout=remaining):
            return Answer(None, None, "deadline")
        try:
            started = time.monotonic()
            attempt = self._request(query, deadline_at)
            observed.append((time.monotonic() - started, attempt.error))
            return attempt
        finally:
            self._in_flight.release()

    def _request(self, query: ProfileQuery, deadline_at: float) -> Answer:
        remaining = max(0.001, deadline_at - time.monotonic())
        url = self._url(query)
        if query.user_id:
            url += "?" + urlencode({"user_id": query.user_id})
        try:
            response = self._pool.urlopen(
                "GET",
                url,
                headers=self._headers,
                timeout=urllib3.Timeout(
                    connect=min(self.connect_timeout, remaining),
                    read=min(self.read_timeout, remaining),
                ),
                retries=False,
                redirect=False,
                preload_content=False,
            )
        except urllib3.exceptions.NewConnectionError:  # refused, unreachable (not a timeout)
            return Answer(None, None, "connection")
        except (urllib3.exceptions.TimeoutError, TimeoutError):
            return Answer(None, None, "timeout")
        except (urllib3.exceptions.HTTPError, OSError):
            return Answer(None, None, "connection")
        try:
            body = self._read_body(response, deadline_at)
        except _Deadline:
            return Answer(None, None, "deadline")
        except _TooLarge:
            return Answer(None, None, "body_too_large")
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
            return Answer(None, None, "timeout")
        except (urllib3.exceptions.HTTPError, OSError):
            return Answer(None, None, "connection")
        finally:
            # A body read to the end has given its connection back to the pool already; any
            # other is closed, and its slot freed.
            response.close()
            response.release_conn()
        return interpret_answer(
            code=response.status,
            body=body,
            retry_after_header=response.headers.get("Retry-After"),
            platform=query.platform,
        )

    def _read_body(self, response: urllib3.BaseHTTPResponse, deadline_at: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            if time.monotonic() >= deadline_at:
                raise _Deadline
            chunk = response.read1(16 * 1024, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)


def _retryable(error: str | None) -> bool:
    return error is not None and (error in RETRYABLE or error.startswith("http_5"))


# --- the process-wide client ------------------------------------------------------------------

_client: StatusClient | None = None
_client_lock = threading.Lock()


def get_status_client() -> StatusClient:
    """The client built from the STATUS_API_* settings, one per process. Without
    STATUS_API_URL it talks to the demo service (`manage.py demo_status_server`, port 8001)."""
    global _client
    with _client_lock:
        if _client is None:
            _client = _build_client()
        return _client


def reset_status_client() -> None:
    """Forget the cached client (tests that change settings)."""
    global _client
    with _client_lock:
        if _client is not None:
            _client.close()
        _client = None


def _build_client() -> StatusClient:
    base_url = settings.STATUS_API_URL
    if not base_url:
        logger.warning(
            "STATUS_API_URL is not set: using the demo status service at %s", DEFAULT_DEMO_URL
        )
        base_url = DEFAULT_DEMO_URL
    return StatusClient(
        base_url=base_url,
        token=settings.STATUS_API_TOKEN,
        connect_timeout=settings.STATUS_API_CONNECT_TIMEOUT,
        read_timeout=settings.STATUS_API_READ_TIMEOUT,
        deadline=settings.STATUS_API_DEADLINE,
        max_attempts=settings.STATUS_API_MAX_ATTEMPTS,
        backoff_base=settings.STATUS_API_BACKOFF_BASE,
        retry_after_cap=settings.STATUS_API_RETRY_AFTER_CAP,
        max_in_flight=settings.STATUS_API_MAX_IN_FLIGHT,
        breaker=DbBreaker(
            name="status",
            threshold=settings.STATUS_API_BREAKER_THRESHOLD,
            cooldown=settings.STATUS_API_BREAKER_COOLDOWN,
        ),
    )
