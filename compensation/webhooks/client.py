"""The outbound HTTP client for webhook receivers, in the project's one pattern (as the status
client): one pooled `requests.Session` per process, (connect, read) timeouts per attempt, an
overall deadline (the answer is streamed and the clock checked between reads; only an excerpt is
read), redirects never followed, no retries inside a call (the delivery's back-off is the retry),
no proxies or .netrc picked up from the environment.

Before every attempt the host is resolved again and every address checked (`addresses`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import requests
import urllib3.exceptions
from django.conf import settings
from requests.adapters import HTTPAdapter

from compensation.webhooks.addresses import AddressRefused, url_check
from compensation.webhooks.signing import signed_headers

EXCERPT_BYTES = 1000
POOL_HOSTS = 16  # receivers whose connections are kept
POOL_PER_HOST = 4


@dataclass(frozen=True)
class PostResult:
    status_code: int | None
    error: str  # "" when the receiver answered; the answer may still be a non-2xx
    excerpt: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return not self.error and self.status_code is not None and 200 <= self.status_code < 300


class _Deadline(Exception):
    pass


class WebhookClient:
    def __init__(self) -> None:
        self.session = requests.Session()
        adapter = HTTPAdapter(
            pool_connections=POOL_HOSTS, pool_maxsize=POOL_PER_HOST, max_retries=0
        )
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"User-Agent": "compensation-desk-webhooks"})
        self.session.trust_env = False

    def close(self) -> None:
        self.session.close()

    def post(self, *, url: str, event_id: str, body: bytes, secret: str) -> PostResult:
        started = time.monotonic()
        deadline_at = started + settings.WEBHOOK_DEADLINE

        def result(code: int | None, error: str, excerpt: str = "") -> PostResult:
            elapsed = int((time.monotonic() - started) * 1000)
            return PostResult(code, error[:200], excerpt, elapsed)

        try:
            url_check(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_HOSTS)
        except AddressRefused as exc:
            return result(None, f"refused_address: {exc}")
        # The moment of sending, from the wall clock: receivers compare it with theirs.
        timestamp = str(int(time.time()))
        headers = signed_headers(secret=secret, event_id=event_id, timestamp=timestamp, body=body)
        remaining = max(0.001, deadline_at - time.monotonic())
        try:
            response = self.session.post(
                url,
                data=body,
                headers=headers,
                timeout=(
                    min(settings.WEBHOOK_CONNECT_TIMEOUT, remaining),
                    min(settings.WEBHOOK_READ_TIMEOUT, remaining),
                ),
                stream=True,
                allow_redirects=False,
            )
        except requests.exceptions.Timeout:
            return result(None, "timeout")
        except requests.exceptions.RequestException:
            return result(None, "connection")
        try:
            excerpt = _excerpt(response, deadline_at)
        except _Deadline:
            return result(response.status_code, "deadline")
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
            return result(response.status_code, "timeout")
        except (urllib3.exceptions.HTTPError, requests.exceptions.RequestException, OSError):
            return result(response.status_code, "connection")
        finally:
            response.close()
        if 300 <= response.status_code < 400:
            return result(response.status_code, "redirect not followed", excerpt)
        return result(response.status_code, "", excerpt)


def _excerpt(response: requests.Response, deadline_at: float) -> str:
    """The first EXCERPT_BYTES of the answer, for staff; the rest is not read."""
    chunks: list[bytes] = []
    size = 0
    while size < EXCERPT_BYTES:
        if time.monotonic() >= deadline_at:
            raise _Deadline
        chunk = response.raw.read1(EXCERPT_BYTES - size, decode_content=True)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


_client: WebhookClient | None = None
_client_lock = threading.Lock()


def get_webhook_client() -> WebhookClient:
    """One client (one connection pool) per process; settings are read on every call."""
    global _client
    with _client_lock:
        if _client is None:
            _client = WebhookClient()
        return _client
