"""The support mailbox over IMAP (stdlib imaplib): connect, list new mail, fetch, mark.

`imap://` connects in plain text and upgrades with STARTTLS whenever the server offers it;
`imaps://` speaks TLS from the first byte. Certificates are verified against the system's trust
store. Mail the desk has handled gets the keyword `$CompensationDesk` (and \\Seen), so a person
reading the same mailbox in a mail client cannot make the desk skip a message; servers that do not
allow keywords fall back to \\Seen alone. Messages are read with BODY.PEEK, so reading never
marks anything by itself, and only up to a byte limit.
"""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

HANDLED_KEYWORD = "$CompensationDesk"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
_UID = re.compile(rb"UID (\d+)")
_INTERNALDATE = re.compile(
    rb'INTERNALDATE "\s?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)"'
)


class ImapConfigError(ValueError):
    pass


@dataclass(frozen=True)
class ImapConfig:
    tls: bool  # imaps://
    host: str
    port: int
    username: str
    password: str
    mailbox: str

    def __repr__(self) -> str:  # never show the password (logs, tracebacks)
        scheme = "imaps" if self.tls else "imap"
        return f"ImapConfig({scheme}://{self.username}@{self.host}:{self.port}/{self.mailbox})"


@dataclass(frozen=True)
class FetchedMessage:
    uid: int
    raw: bytes
    size: int
    truncated: bool
    arrived_at: datetime | None  # INTERNALDATE: when the server received it


def imap_config(url: str) -> ImapConfig:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("imap", "imaps"):
        raise ImapConfigError("IMAP_URL must start with imap:// or imaps://")
    if not parts.hostname or not parts.username:
        raise ImapConfigError("IMAP_URL needs a user and a host: imap://user:pass@host/INBOX")
    tls = parts.scheme == "imaps"
    return ImapConfig(
        tls=tls,
        host=parts.hostname,
        port=parts.port or (993 if tls else 143),
        username=unquote(parts.username),
        password=unquote(parts.password or ""),
        mailbox=unquote(parts.path.lstrip("/")) or "INBOX",
    )


def tls_context() -> ssl.SSLContext:
    """Verifying TLS context (tests point it at their own certificate authority)."""
    return ssl.create_default_context()


def _internal_date(prefix: bytes) -> datetime | None:
    match = _INTERNALDATE.search(prefix)
    if match is None:
        return None
    day, month, year, hour, minute, second, sign, off_h, off_m = (
        g.decode() for g in match.groups()
    )
    if month.title() not in _MONTHS:
        return None
    offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (-1 if sign == "-" else 1)
    return datetime(
        int(year),
        _MONTHS.index(month.title()) + 1,
        int(day),
        int(hour),
        int(minute),
        int(second),
        tzinfo=timezone(offset),
    )


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _imap_date(day: date) -> str:
    return f"{day.day:02d}-{_MONTHS[day.month - 1]}-{day.year}"


class Mailbox:
    """One logged-in session on the configured folder."""

    def __init__(self, connection: imaplib.IMAP4, *, keywords: bool) -> None:
        self.connection = connection
        self.keywords = keywords

    def new_uids(self, *, since: date, limit: int) -> list[int]:
        """UIDs not yet marked by the desk, received on or after `since`, oldest first."""
        unhandled = ("UNKEYWORD", HANDLED_KEYWORD) if self.keywords else ("UNSEEN",)
        status, data = self.connection.uid("SEARCH", *unhandled, "SINCE", _imap_date(since))
        if status != "OK":
            raise imaplib.IMAP4.error(f"SEARCH failed: {data!r}")
        uids = sorted(int(u) for u in (data[0] or b"").split())
        return uids[:limit]

    def fetch(self, uid: int, *, max_bytes: int) -> FetchedMessage | None:
        """The message's first `max_bytes` bytes (headers and text parts come first)."""
        status, data = self.connection.uid(
            "FETCH", str(uid), f"(RFC822.SIZE INTERNALDATE BODY.PEEK[]<0.{max_bytes}>)"
        )
        if status != "OK":
            raise imaplib.IMAP4.error(f"FETCH failed: {data!r}")
        for item in data:
            if isinstance(item, tuple) and _UID.search(item[0]):
                size_match = _SIZE.search(item[0])
                raw = bytes(item[1])
                size = int(size_match.group(1)) if size_match else len(raw)
                return FetchedMessage(
                    uid=uid,
                    raw=raw,
                    size=size,
                    truncated=size > len(raw),
                    arrived_at=_internal_date(item[0]),
                )
        return None  # expunged meanwhile

    def mark_handled(self, uid: int) -> None:
        flags = f"({HANDLED_KEYWORD} \\Seen)" if self.keywords else "(\\Seen)"
        status, data = self.connection.uid("STORE", str(uid), "+FLAGS.SILENT", flags)
        if status != "OK":
            raise imaplib.IMAP4.error(f"STORE failed: {data!r}")


def _keywords_allowed(connection: imaplib.IMAP4) -> bool:
    _name, values = connection.response("PERMANENTFLAGS")
    text = b" ".join(v for v in values if isinstance(v, bytes))
    return b"\\*" in text or HANDLED_KEYWORD.encode() in text


@contextmanager
def mailbox_open(config: ImapConfig, *, timeout: float) -> Iterator[Mailbox]:
    connection: imaplib.IMAP4
    if config.tls:
        connection = imaplib.IMAP4_SSL(
            config.host, config.port, ssl_context=tls_context(), timeout=timeout
        )
    else:
        connection = imaplib.IMAP4(config.host, config.port, timeout=timeout)
        if "STARTTLS" in connection.capabilities:
            connection.starttls(ssl_context=tls_context())
        elif config.host not in ("127.0.0.1", "::1", "localhost"):
            log.warning("IMAP server %s offers no STARTTLS: logging in without TLS", config.host)
    try:
        connection.login(config.username, config.password)
        status, data = connection.select(_quote(config.mailbox))
        if status != "OK":
            raise imaplib.IMAP4.error(f"cannot open mailbox {config.mailbox!r}: {data!r}")
        yield Mailbox(connection, keywords=_keywords_allowed(connection))
    finally:
        try:
            connection.logout()
        except (imaplib.IMAP4.error, OSError):
            log.debug("IMAP logout failed", exc_info=True)
