"""A real HTTP server on 127.0.0.1 that imitates the status service (docs/status-service.md).

Used by the tests (timeouts, trickles and refused connections need a real socket) and by
`manage.py demo_status_server`. Programmable per `platform/username` (username compared in lower
case): a profile (answered as 200 JSON) or a behaviour:

    with StatusDouble() as double:
        double.set("instagram", "ig_one", profile(state="locked", likes=1))
        double.set("instagram", "flaky", sequence([status(503), profile(state="active")]))
        double.set("instagram", "slow", hang(5))
        double.latency = 0.02            # added to every answer
        client = StatusClient(base_url=double.url, ...)
        double.count("instagram", "ig_one"); double.authorizations; double.max_concurrency

Unknown profiles answer 404 (or `double.default`, or what `resolver` returns).
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from inventory.interactions import INTERACTION_KINDS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Status:
    """Answer `code` with `body` (dict/list -> JSON, str/bytes as is) and extra headers."""

    code: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Sequence:
    """Answer with each behaviour in turn; the last one repeats."""

    steps: list[Any]
    position: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self) -> Any:
        with self.lock:
            step = self.steps[min(self.position, len(self.steps) - 1)]
            self.position += 1
            return step


@dataclass(frozen=True)
class Hang:
    """Accept the request, then send nothing for `seconds` (a read timeout for the client)."""

    seconds: float
    then: Any = None


@dataclass(frozen=True)
class Trickle:
    """Send headers at once, then the body at `bytes_per_s` (each read arrives in time)."""

    bytes_per_s: float
    body: Any = None


@dataclass(frozen=True)
class Garbage:
    """200 with a body that is not JSON."""

    body: bytes = b"<html>\x00\xff not json"


def status(code: int, body: Any = None, headers: Mapping[str, str] | None = None) -> Status:
    return Status(code=code, body=body, headers=dict(headers or {}))


def sequence(steps: Iterable[Any]) -> Sequence:
    return Sequence(steps=list(steps))


def hang(seconds: float, then: Any = None) -> Hang:
    return Hang(seconds=seconds, then=then)


def trickle(bytes_per_s: float, body: Any = None) -> Trickle:
    return Trickle(bytes_per_s=bytes_per_s, body=body)


def garbage(body: bytes = b"<html>\x00\xff not json") -> Garbage:
    return Garbage(body=body)


def profile(
    *,
    platform: str = "instagram",
    username: str | None = "ig_one",
    user_id: str | None = None,
    state: str = "active",
    followers: int | None = 250,
    interactions: Mapping[str, int | None] | str | None = "zero",
    **counters: int,
) -> dict[str, Any]:
    """A 200 body of the documented shape. `interactions="zero"` = all six at 0, then
    `counters` (e.g. likes=1) on top; `interactions=None` = not shown."""
    shown: dict[str, int | None] | None
    if interactions == "zero":
        shown = {kind: 0 for kind in INTERACTION_KINDS}
    elif interactions is None or isinstance(interactions, str):
        shown = None
    else:
        shown = dict(interactions)
    if counters:
        shown = {**(shown or {}), **counters}
    return {
        "platform": platform,
        "user_id": user_id,
        "username": username,
        "state": state,
        "followers": followers,
        "interactions": shown,
    }


Resolver = Callable[[str, str, str | None], Any]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True
    double: StatusDouble


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle + delayed ACK add
    # ~40 ms to every keep-alive answer (measured: 20 ms latency became ~65 ms).
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests and the demo log nothing per request

    def do_GET(self) -> None:
        self.server.double._handle(self)


class StatusDouble:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, resolver: Resolver | None = None):
        self._server = _Server((host, port), _Handler)
        self._server.double = self
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._answers: dict[str, Any] = {}
        self.resolver = resolver
        self.default: Any = None  # None: 404 for unknown profiles
        self.latency: float = 0.0
        self.counts: Counter[str] = Counter()
        self.authorizations: list[str | None] = []
        self.queries: list[tuple[str, dict[str, list[str]]]] = []
        self.in_flight = 0
        self.max_concurrency = 0

    # --- lifecycle ------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = self._server.server_address[0]
        return f"http://{host if isinstance(host, str) else host.decode()}:{self.port}"

    def serve_tls(self, context: ssl.SSLContext) -> None:
        """Answer over TLS with `context`'s certificate (before `start`; the certificate tests)."""
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)

    def start(self) -> StatusDouble:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def serve_forever(self) -> None:
        """Serve in the calling thread (the demo command)."""
        self._server.serve_forever(poll_interval=0.2)

    def __enter__(self) -> StatusDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- programming ----------------------------------------------------------------------------
    @staticmethod
    def key(platform: str, username: str) -> str:
        return f"{platform.lower()}/{username.lower()}"

    def set(self, platform: str, username: str, answer: Any) -> None:
        """A profile dict (200 JSON) or a behaviour (status/sequence/hang/trickle/garbage)."""
        with self._lock:
            self._answers[self.key(platform, username)] = answer

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()
            self.counts.clear()
            self.authorizations.clear()
            self.queries.clear()
            self.max_concurrency = 0

    def count(self, platform: str, username: str) -> int:
        return self.counts[self.key(platform, username)]

    @property
    def total_requests(self) -> int:
        return sum(self.counts.values())

    # --- serving --------------------------------------------------------------------------------
    def _handle(self, handler: _Handler) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_concurrency = max(self.max_concurrency, self.in_flight)
        try:
            self._answer(handler)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, handler: _Handler) -> None:
        parts = urlsplit(handler.path)
        query = parse_qs(parts.query)
        segments = [unquote(s) for s in parts.path.split("/")]
        with self._lock:
            self.authorizations.append(handler.headers.get("Authorization"))
            self.queries.append((parts.path, query))
        if len(segments) != 5 or segments[:3] != ["", "v1", "profiles"] or not segments[4]:
            self._send(handler, Status(404, {"error": "unknown path"}))
            return
        platform, username = segments[3], segments[4]
        key = self.key(platform, username)
        with self._lock:
            self.counts[key] += 1
            answer = self._answers.get(key)
        if answer is None and self.resolver is not None:
            user_ids = query.get("user_id") or []
            try:
                answer = self.resolver(platform, username, user_ids[0] if user_ids else None)
            except Exception:  # a broken resolver is a server error, not a dropped connection
                logger.exception("status double: resolver failed for %s/%s", platform, username)
                answer = Status(500, {"error": "resolver failed"})
        if answer is None:
            answer = self.default
        if answer is None:
            answer = Status(404, {"error": "profile not found"})
        if self.latency > 0:
            self._stopping.wait(self.latency)
        self._send(handler, answer)

    def _send(self, handler: _Handler, answer: Any) -> None:
        if isinstance(answer, Sequence):
            answer = answer.next()
        if isinstance(answer, Hang):
            if self._stopping.wait(answer.seconds) or answer.then is None:
                handler.close_connection = True
                return
            answer = answer.then
        if isinstance(answer, Garbage):
            self._write(handler, 200, answer.body, {"Content-Type": "application/json"})
        elif isinstance(answer, Trickle):
            self._trickle(handler, answer)
        elif isinstance(answer, Status):
            body = _encode(answer.body)
            self._write(
                handler, answer.code, body, {"Content-Type": "application/json", **answer.headers}
            )
        else:
            self._write(handler, 200, _encode(answer), {"Content-Type": "application/json"})

    @staticmethod
    def _write(handler: _Handler, code: int, body: bytes, headers: Mapping[str, str]) -> None:
        handler.send_response(code)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()

    def _trickle(self, handler: _Handler, answer: Trickle) -> None:
        body = _encode(answer.body if answer.body is not None else profile(username="trickle"))
        body = body + b" " * 4096  # long enough to outlast any deadline
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.flush()
        pause = 1.0 / max(answer.bytes_per_s, 0.001)
        for i in range(len(body)):
            if self._stopping.wait(pause):
                break
            handler.wfile.write(body[i : i + 1])
            handler.wfile.flush()
        handler.close_connection = True


def _encode(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()
