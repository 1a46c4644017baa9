"""What a customer's mail says: order-id candidates, the "Change Password" answer, the reason.

Pure functions. The candidates are only candidates: the service counts one only when it is an
order of the sender's address. The warning is taken as "seen" only from a statement (not a
question, not negated), because under policy rule 1 it rejects the account: when in doubt the
desk reads "not seen", and staff see the sentence it relied on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MAX_REASON = 2000  # what the form and the API accept
MAX_CANDIDATES = 50

# "Change Password" wording in English, German and Russian (the prompt platforms show at login).
_WARNING = re.compile(
    r"""
      \bchange[\s-]+(?:your\s+|the\s+|my\s+|of\s+)?password
    | \bpassword[\s-]+change\b
    | \b(?:passwort|kennwort)\w*\W{0,3}(?:\w+\W+){0,2}?(?:ä|ae)nder
    | (?:ä|ae)nder\w*\W+(?:\w+\W+){0,2}?(?:passwort|kennwort)
    | (?:смен|измен|поменя)\w*\s+(?:\w+\s+)?парол
    | \bпарол\w*\s+(?:\w+\s+)?(?:смен|измен|поменя)
    """,
    re.IGNORECASE | re.VERBOSE,
)
_NEGATION = re.compile(
    r"""\b(?:
        no|not|never|none|nothing|without|neither|nor|cannot
      | (?:did|do|does|was|were|have|has|had|is|are|ca|could|would)n[’']?t
      | nicht|nie|niemals|kein\w*|ohne|nein|weder
      | не|нет|ни|никак\w*|никогда|без
    )\b""",
    re.IGNORECASE | re.VERBOSE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")
_CONTRAST = re.compile(r"(?:but|however|yet|aber|jedoch|doch|sondern|но|однако|а)\b", re.IGNORECASE)
_QUOTE_HEADER = re.compile(
    r"""^(?:
        on\s.+\swrote:
      | am\s.+\sschrieb.*:
      | .+\s(?:написал|написала|написал\(а\)|пишет):
      | -{2,}\s*(?:original\s+message|ursprüngliche\s+nachricht|исходное\s+сообщение)\s*-{2,}
      | -{2,}\s*forwarded\s+message\s*-{2,}
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


@dataclass(frozen=True)
class Understanding:
    candidates: list[str]
    password_change_warning: bool
    warning_sentence: str
    reason: str


def strip_quoted(text: str) -> str:
    """The customer's own words: quoted lines, everything below a reply header or a signature
    delimiter dropped (the desk's own earlier reply must not be read as the customer's)."""
    kept: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped in ("--", "-- ") or _QUOTE_HEADER.match(stripped):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def order_id_candidates(texts: Iterable[str], *, pattern: str) -> list[str]:
    """Every string the pattern finds, and each of its tails the pattern also matches in full
    (so "Order-1234" offers "rder-1234", "der-1234", …, "1234"), in order of appearance."""
    compiled = re.compile(pattern)
    found: dict[str, None] = {}
    for text in texts:
        for match in compiled.finditer(text):
            token = match.group(0)
            for start in range(len(token)):
                tail = token[start:]
                # A tail starts at a letter or digit, never inside a number.
                cut_inside = start > 0 and (token[start - 1].isdigit() or not tail[0].isalnum())
                if not cut_inside and compiled.fullmatch(tail):
                    found.setdefault(tail, None)
            if len(found) >= MAX_CANDIDATES:
                return list(found)[:MAX_CANDIDATES]
    return list(found)


def _sentences(text: str) -> list[str]:
    return [c.strip() for c in _SENTENCE_END.split(text) if c and c.strip()]


def _negated(parts: list[str], index: int) -> bool:
    """A negation in this comma-clause, or in the clauses before it back to a "but": "there was
    no prompt, to change the password" is negated; "I did nothing, but it says change password"
    is not."""
    start = index
    while start > 0 and not _CONTRAST.match(parts[start]):
        start -= 1
    return any(_NEGATION.search(part) for part in parts[start : index + 1])


def warning_sentence(text: str) -> str:
    """The sentence in which the customer says they saw a "Change Password" prompt, or ""."""
    sentences = _sentences(text)
    for index, sentence in enumerate(sentences):
        if not _WARNING.search(sentence) or sentence.endswith("?"):
            continue
        parts = [p.strip() for p in sentence.split(",")]
        said = [i for i, part in enumerate(parts) if _WARNING.search(part)]
        if not said or any(_negated(parts, i) for i in said):
            continue
        following = sentences[index + 1] if index + 1 < len(sentences) else ""
        if following and len(following.split()) <= 3 and _NEGATION.search(following):
            continue  # "… warning. No."
        return sentence
    return ""


def understand(*, subject: str, text: str, pattern: str) -> Understanding:
    own_words = strip_quoted(text)
    sentence = warning_sentence(f"{subject}.\n{own_words}")
    reason = "\n\n".join(part for part in (subject.strip(), own_words) if part)
    return Understanding(
        candidates=order_id_candidates([subject, own_words], pattern=pattern),
        password_change_warning=bool(sentence),
        warning_sentence=sentence[:300],
        reason=reason[:MAX_REASON] or "(e-mail without text)",
    )
