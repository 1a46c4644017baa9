"""Raw mail bytes -> the facts the desk needs. Pure: no ORM, no network, no clock.

Text comes from the text/plain parts, or from the HTML parts read as text when a mail has no plain
part. Every charset a part declares is tried, then UTF-8, then Windows-1252 with replacement, so
no mail is dropped for its encoding. Attachments are counted, never kept.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

# Our replies' Message-IDs look like <desk-reply.<hex>@<our domain>> (see replies.py).
OWN_ID_PREFIX = "desk-reply."
# A thread in which the desk has already answered this often goes to a person.
REPLIES_PER_THREAD = 2

_ID_IN_HEADER = re.compile(r"<([^<>\s]+)>")
_FALLBACK_CHARSETS = ("utf-8",)
# Set by vacation responders that do not send Auto-Submitted.
_AUTOREPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponse")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParsedMessage:
    message_key: str  # Message-ID without <>, or "sha256:<hex>" of the header block
    message_id: str
    sender: str  # the From address ("" when there is none)
    subject: str
    sent_at: datetime | None
    thread_ids: list[str]  # References then In-Reply-To, without <>, each once
    text: str
    attachments: int
    size: int
    truncated: bool
    # Facts that mark automatic mail (RFC 3834 and common practice).
    auto_submitted: str = ""
    precedence: str = ""
    list_mail: bool = False
    autoreply_header: bool = False
    null_return_path: bool = False
    delivery_report: bool = False
    x_loop: list[str] = field(default_factory=list)


# --- decoding helpers ---------------------------------------------------------------------------


def _clean(value: str) -> str:
    """Undecodable bytes in headers arrive as surrogates: make them visible replacement marks."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\x00", "")


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a header too broken for the parser: fall back to its raw text
        raw = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), "")
        value = str(raw)
    return _clean(" ".join(str(value).split())) if value is not None else ""


def _headers(msg: Message, name: str) -> list[str]:
    try:
        values = msg.get_all(name) or []
    except Exception:
        values = []
    return [_clean(" ".join(str(v).split())) for v in values]


def decode_part(part: Message) -> str:
    """The text of one leaf part, whatever its (declared, wrong or unknown) charset."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if not isinstance(payload, bytes):
        return ""
    declared = part.get_content_charset()
    for charset in (declared, *_FALLBACK_CHARSETS):
        if not charset:
            continue
        try:
            return payload.decode(charset).replace("\x00", "")
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("cp1252", errors="replace").replace("\x00", "")


class _HtmlText(HTMLParser):
    """HTML as plain text: scripts, styles and quoted replies dropped, blocks on their own lines."""

    SKIP = frozenset({"script", "style", "head", "title", "template", "noscript", "blockquote"})
    BLOCK = frozenset(
        {"p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6",
         "section", "article", "header", "footer", "hr", "pre"}
    )  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_tag = ""
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip_tag:
            if tag == self._skip_tag:
                self._skip_depth += 1
            return
        css = " ".join(v or "" for k, v in attrs if k == "class").lower()
        if tag in self.SKIP or (tag == "div" and "quote" in css):  # e.g. gmail_quote
            self._skip_tag, self._skip_depth = tag, 1
            return
        if tag in self.BLOCK:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if self._skip_tag:
            if tag == self._skip_tag:
                self._skip_depth -= 1
                if self._skip_depth <= 0:
                    self._skip_tag = ""
            return
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_tag:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser is lenient; anything it still refuses keeps what it read
        log.debug("HTML part only partly readable", exc_info=True)
    return normalise_text("".join(parser.parts))


def normalise_text(text: str) -> str:
    lines = [" ".join(line.replace("\xa0", " ").split()) for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def _body_text(msg: Message) -> tuple[str, int]:
    """(text, attachments): plain parts, else HTML parts as text; other leaves are attachments."""
    plain: list[str] = []
    html: list[str] = []
    attachments = 0
    for part in msg.walk():
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        is_attachment = part.get_content_disposition() == "attachment" or bool(part.get_filename())
        if is_attachment or content_type not in ("text/plain", "text/html"):
            attachments += 1
        elif content_type == "text/plain":
            plain.append(decode_part(part))
        else:
            html.append(decode_part(part))
    if any(p.strip() for p in plain):
        return normalise_text("\n\n".join(plain)), attachments
    return normalise_text("\n\n".join(html_to_text(h) for h in html)), attachments


# --- the message ------------------------------------------------------------------------------


def _message_key(message_id: str, raw: bytes) -> str:
    if message_id and len(message_id) <= 255:
        return message_id
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
    return "sha256:" + hashlib.sha256(head).hexdigest()


def _sender(msg: EmailMessage) -> str:
    try:
        header = msg["From"]
        addresses = [a.addr_spec for a in getattr(header, "addresses", ())]
    except Exception:
        addresses = []
    if not addresses:
        addresses = [addr for _name, addr in getaddresses(_headers(msg, "From")) if addr]
    address = _clean(addresses[0]).strip() if addresses else ""
    return address if len(address) <= 254 else ""


def _sent_at(value: str) -> datetime | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _ids(*values: str) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        for found in _ID_IN_HEADER.findall(value):
            seen.setdefault(found, None)
    return list(seen)


def parse_message(raw: bytes, *, size: int | None = None, truncated: bool = False) -> ParsedMessage:
    """Parse one message as fetched (possibly cut at IMAP_MAX_MESSAGE_BYTES: `truncated`)."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    ids = _ids(_header(msg, "Message-ID"))
    message_id = ids[0] if ids else _header(msg, "Message-ID").strip("<> ")
    text, attachments = _body_text(msg)
    return_paths = _headers(msg, "Return-Path")
    return ParsedMessage(
        message_key=_message_key(message_id, raw),
        message_id=message_id[:998],
        sender=_sender(msg),
        subject=_header(msg, "Subject")[:998],
        sent_at=_sent_at(_header(msg, "Date")),
        thread_ids=_ids(_header(msg, "References"), _header(msg, "In-Reply-To")),
        text=text,
        attachments=attachments,
        size=size if size is not None else len(raw),
        truncated=truncated,
        auto_submitted=_header(msg, "Auto-Submitted").lower(),
        precedence=_header(msg, "Precedence").lower(),
        list_mail=bool(_header(msg, "List-Id") or _header(msg, "List-Unsubscribe")),
        autoreply_header=any(_header(msg, name) for name in _AUTOREPLY_HEADERS),
        null_return_path=any(rp.replace(" ", "") == "<>" for rp in return_paths),
        delivery_report=msg.get_content_type() == "multipart/report",
        x_loop=[v.lower() for v in _headers(msg, "X-Loop")],
    )


# --- mail the desk never answers --------------------------------------------------------------


def own_ids(thread_ids: list[str], *, reply_domain: str, app_domain: str) -> list[str]:
    """The ids of this thread that the desk's own mails carry: our replies
    (<desk-reply.…@reply_domain>, the domain of DEFAULT_FROM_EMAIL) and anything else the
    application mailed (Django's Message-IDs end with the server's name, `app_domain`)."""
    ours = []
    for message_id in thread_ids:
        local, at, domain = message_id.rpartition("@")
        if not at:
            continue
        domain = domain.lower()
        if domain == app_domain.lower() or (
            local.startswith(OWN_ID_PREFIX) and domain == reply_domain.lower()
        ):
            ours.append(message_id)
    return ours


def follow_up_reason(own: list[str], *, help_reply_ids: set[str]) -> str:
    """A mail answering the desk's own mail goes to a person ("thread_answered"), except an answer
    to the desk's "what to send" reply, so the customer can simply reply with their order id —
    once: a second round goes to a person as well (this also ends any mail loop)."""
    if not own:
        return ""
    if len(own) < REPLIES_PER_THREAD and all(i in help_reply_ids for i in own):
        return ""
    return "thread_answered"


def skip_reason(parsed: ParsedMessage, *, own_addresses: set[str]) -> str:
    """Why this mail must not be answered automatically ("" when it may be).
    `own_addresses` lower-case."""
    auto = parsed.auto_submitted.split(";")[0].strip()
    local_part = parsed.sender.rsplit("@", 1)[0].lower()
    if not parsed.sender:
        return "no_sender"
    if parsed.sender.lower() in own_addresses:
        return "own_address"
    if any(address in loop for loop in parsed.x_loop for address in own_addresses):
        return "loop"
    if parsed.null_return_path or parsed.delivery_report or local_part == "mailer-daemon":
        return "bounce"
    if (auto and auto != "no") or parsed.autoreply_header:
        return "auto_submitted"
    if parsed.precedence in ("bulk", "junk", "list"):
        return "precedence"
    if parsed.list_mail:
        return "mailing_list"
    return ""
