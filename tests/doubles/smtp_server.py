"""A real SMTP server on 127.0.0.1 for tests: it accepts, stalls, drops or refuses on command.

Each new connection takes the next behaviour from `plan` (then `default`):

    with SmtpDouble() as smtp:
        smtp.plan = [Stall(3), Drop("data"), Reply(451), Reply(550), Accept()]
        settings.EMAIL_HOST, settings.EMAIL_PORT = smtp.host, smtp.port
        ...
        smtp.accepted            # messages the server answered 250 to after DATA
        smtp.unacknowledged      # messages received in full but dropped before the 250
        smtp.message_ids()       # Message-ID of every accepted message, in order

Only the plain SMTP dialogue Django's SMTP backend speaks (EHLO/HELO, MAIL, RCPT, DATA, RSET,
NOOP, QUIT) is implemented; no TLS, no AUTH. Every connection's fate is recorded in `sessions`.
"""

from __future__ import annotations

import email.parser
import email.policy
import socketserver
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

DropPoint = Literal["greeting", "mail", "data", "after_data"]
ReplyPoint = Literal["greeting", "mail", "rcpt", "data_end"]


@dataclass(frozen=True)
class Accept:
    """A well-behaved server."""


@dataclass(frozen=True)
class Stall:
    """Wait `seconds` before the greeting (a slow or hung server), then behave like `then`."""

    seconds: float
    then: Accept | Drop | Reply = field(default_factory=Accept)


@dataclass(frozen=True)
class Drop:
    """Close the connection without a word at `at`:
    greeting (before the banner), mail (after MAIL FROM arrives), data (in the middle of the
    message), after_data (the whole message arrived; the 250 is never sent)."""

    at: DropPoint = "data"


@dataclass(frozen=True)
class Reply:
    """Answer `code` (4xx temporary, 5xx permanent) at `at` instead of accepting."""

    code: int
    at: ReplyPoint = "data_end"
    text: str = "refused by the test double"


Behaviour = Accept | Stall | Drop | Reply


@dataclass(frozen=True)
class Received:
    mail_from: str
    recipients: tuple[str, ...]
    data: bytes
    message_id: str
    subject: str
    at: float

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


@dataclass
class Session:
    behaviour: Behaviour
    outcome: str = "open"  # accepted | dropped:<point> | replied:<code> | quit | closed


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
    double: SmtpDouble


class _Handler(socketserver.StreamRequestHandler):
    server: _Server
    timeout = 30  # a client that goes silent does not hold a thread for ever

    def handle(self) -> None:
        self.server.double._serve(self)


def _parse_headers(data: bytes) -> tuple[str, str]:
    headers = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(
        data, headersonly=True
    )
    return str(headers.get("Message-ID", "")).strip(), str(headers.get("Subject", "")).strip()


class SmtpDouble:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.double = self
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.plan: list[Behaviour] = []
        self.default: Behaviour = Accept()
        self.accepted: list[Received] = []
        self.unacknowledged: list[Received] = []
        self.sessions: list[Session] = []
        # Called with each complete message before the server answers 250 (a test can, e.g.,
        # block the sender's next database write there, or kill it).
        self.before_accept: Callable[[Received], None] | None = None

    # --- lifecycle ------------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> SmtpDouble:
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

    def __enter__(self) -> SmtpDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- reading what happened --------------------------------------------------------------------
    def message_ids(self) -> list[str]:
        with self._lock:
            return [m.message_id for m in self.accepted]

    def duplicates(self) -> int:
        """Accepted messages whose Message-ID was accepted before (same e-mail delivered again)."""
        counts = Counter(self.message_ids())
        return sum(n - 1 for n in counts.values())

    def outcomes(self) -> Counter[str]:
        with self._lock:
            return Counter(s.outcome for s in self.sessions)

    def wait_for(self, count: int, timeout: float) -> bool:
        """Wait until at least `count` messages were accepted."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.accepted) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def wait_for_sessions(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.sessions) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    # --- serving --------------------------------------------------------------------------------
    def _next(self) -> Session:
        with self._changed:
            behaviour = self.plan.pop(0) if self.plan else self.default
            session = Session(behaviour=behaviour)
            self.sessions.append(session)
            self._changed.notify_all()
            return session

    def _record(self, target: list[Received], message: Received) -> None:
        with self._changed:
            target.append(message)
            self._changed.notify_all()

    def _serve(self, handler: _Handler) -> None:
        session = self._next()
        behaviour: Behaviour = session.behaviour
        try:
            if isinstance(behaviour, Stall):
                if self._stopping.wait(behaviour.seconds):
                    session.outcome = "closed"
                    return
                behaviour = behaviour.then
            session.outcome = self._dialogue(handler, behaviour, session)
        except OSError:  # includes timeouts and resets
            if session.outcome == "open":
                session.outcome = "closed"

    def _dialogue(self, handler: _Handler, behaviour: Behaviour, session: Session) -> str:
        def send(line: str) -> None:
            handler.wfile.write(line.encode() + b"\r\n")
            handler.wfile.flush()

        def refuse_at(point: str) -> Reply | None:
            if isinstance(behaviour, Reply) and behaviour.at == point:
                return behaviour
            return None

        def drop_at(point: str) -> bool:
            return isinstance(behaviour, Drop) and behaviour.at == point

        if drop_at("greeting"):
            return "dropped:greeting"
        if (reply := refuse_at("greeting")) is not None:
            send(f"{reply.code} {reply.text}")
            return f"replied:{reply.code}"
        send("220 smtp-double ESMTP ready")
        mail_from = ""
        recipients: list[str] = []
        while True:
            raw = handler.rfile.readline(4096)
            if not raw:
                return "closed"
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                send("250-smtp-double")
                send("250-8BITMIME")
                send("250 SIZE 10485760")
            elif verb == "HELO":
                send("250 smtp-double")
            elif verb == "MAIL":
                if drop_at("mail"):
                    return "dropped:mail"
                if (reply := refuse_at("mail")) is not None:
                    send(f"{reply.code} {reply.text}")
                    continue
                mail_from = line[len("MAIL FROM:") :].strip().strip("<>").split(">")[0]
                recipients = []
                send("250 OK")
            elif verb == "RCPT":
                if (reply := refuse_at("rcpt")) is not None:
                    send(f"{reply.code} {reply.text}")
                    continue
                recipients.append(line[len("RCPT TO:") :].strip().strip("<>").split(">")[0])
                send("250 OK")
            elif verb == "DATA":
                if not recipients:
                    send("503 need RCPT first")
                    continue
                send("354 end data with <CR><LF>.<CR><LF>")
                data = self._read_data(handler, drop_midway=drop_at("data"))
                if data is None:
                    return "dropped:data"
                message_id, subject = _parse_headers(data)
                message = Received(
                    mail_from=mail_from,
                    recipients=tuple(recipients),
                    data=data,
                    message_id=message_id,
                    subject=subject,
                    at=time.time(),
                )
                if drop_at("after_data"):
                    self._record(self.unacknowledged, message)
                    return "dropped:after_data"
                if (reply := refuse_at("data_end")) is not None:
                    send(f"{reply.code} {reply.text}")
                    recipients = []
                    continue
                if self.before_accept is not None:
                    self.before_accept(message)
                self._record(self.accepted, message)
                send("250 OK queued")
                recipients = []
            elif verb == "RSET":
                mail_from, recipients = "", []
                send("250 OK")
            elif verb == "NOOP":
                send("250 OK")
            elif verb == "QUIT":
                # Recorded before the answer: the client may look as soon as it has it.
                session.outcome = (
                    f"replied:{behaviour.code}" if isinstance(behaviour, Reply) else "quit"
                )
                send("221 bye")
                return session.outcome
            else:
                send("502 command not implemented")

    @staticmethod
    def _read_data(handler: _Handler, *, drop_midway: bool) -> bytes | None:
        lines: list[bytes] = []
        while True:
            raw = handler.rfile.readline(1 << 20)
            if not raw:
                return None
            if raw in (b".\r\n", b".\n"):
                return b"".join(lines)
            if raw.startswith(b".."):
                raw = raw[1:]
            lines.append(raw)
            if drop_midway and len(lines) >= 3:
                return None
