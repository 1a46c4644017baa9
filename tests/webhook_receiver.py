"""A webhook receiver on 127.0.0.1 (ephemeral port) for the tests: a real `http.server`.

Scripted answers, one per POST in arrival order (the last one repeats), or a function of the
delivery: an int is a status code, `Hang(seconds)` sends nothing for that long (a read timeout for
the sender), `Redirect(url)` answers 302, `Trickle(interval)` a slow 200. Every POST is recorded
with its headers and raw body.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Hang:
    seconds: float


@dataclass(frozen=True)
class Redirect:
    location: str


@dataclass(frozen=True)
class Trickle:
    """200 with a long body sent one byte every `interval` seconds (each read is in time)."""

    interval: float


@dataclass(frozen=True)
class Received:
    headers: Any  # email.message.Message: case-insensitive .get, as a framework gives them
    body: bytes
    answer: Any

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def type(self) -> str:
        return str(self.json["type"])


Action = int | Hang | Redirect | Trickle


class Receiver:
    def __init__(self, script: list[Action] | Callable[[bytes], Action] | None = None) -> None:
        self.script: list[Action] | Callable[[bytes], Action] = script or [200]
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._position = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                action = receiver._next(body)
                with receiver._lock:
                    receiver.received.append(Received(self.headers, body, action))
                if isinstance(action, Hang):
                    time.sleep(action.seconds)
                    self.close_connection = True
                    return
                if isinstance(action, Trickle):
                    self.send_response(200)
                    self.send_header("Content-Length", "5000")
                    self.end_headers()
                    try:
                        for _ in range(5000):
                            self.wfile.write(b".")
                            self.wfile.flush()
                            time.sleep(action.interval)
                    except OSError:
                        pass  # the sender gave up
                    self.close_connection = True
                    return
                if isinstance(action, Redirect):
                    self.send_response(302)
                    self.send_header("Location", action.location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                answer = f"answer {action}".encode()
                self.send_response(action)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _next(self, body: bytes) -> Action:
        with self._lock:
            if callable(self.script):
                return self.script(body)
            action = self.script[min(self._position, len(self.script) - 1)]
            self._position += 1
            return action

    def answer(self, script: list[Action] | Callable[[bytes], Action]) -> None:
        with self._lock:
            self.script, self._position = script, 0

    def types(self) -> list[str]:
        return [r.type for r in self.received]

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
