"""One status-service answer as an observation or a named failure (docs/status-service.md).

Strict: anything but the documented JSON is the failure `invalid_body`. No I/O here; the client
hands over the status code, the `Retry-After` header and the body it has read.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from dataclasses import dataclass
from typing import Any

from compensation import rules
from inventory.validation import COUNTER_MAX, text_problem

RAW_TEXT_LIMIT = 500
# No Retry-After is taken at more than a day (the caller clamps further, to its longest re-check
# delay): a date in 2099 or 20 digits of seconds must not move a check out of reach, nor overflow.
RETRY_AFTER_MAX = 86_400.0


class InvalidBody(ValueError):
    pass


@dataclass(frozen=True)
class Answer:
    """What one HTTP answer says: an observation, or `error` (with a Retry-After if given)."""

    observation: rules.Observation | None
    # The body as received (parsed JSON, or text truncated to 500 characters), for evidence.
    raw: Any
    error: str | None
    retry_after: float | None = None


def interpret_answer(
    *, code: int, body: bytes, retry_after_header: str | None, platform: str
) -> Answer:
    """404 is the observation `not_found`; 429/5xx are retryable failures (with their
    Retry-After); another non-200 is `http_<code>`; a 200 must hold a valid profile."""
    raw, is_json = _parsed(body)
    if code == 404:
        return Answer(rules.Observation(state="not_found"), raw, None)
    if code == 429 or code >= 500:
        return Answer(None, raw, f"http_{code}", parse_retry_after(retry_after_header))
    if code != 200:
        return Answer(None, raw, f"http_{code}")
    if not is_json:
        return Answer(None, raw, "invalid_body")
    try:
        observation = parse_profile(raw, platform=platform)
    except InvalidBody:
        return Answer(None, raw, "invalid_body")
    return Answer(observation, raw, None)


def parse_profile(body: Any, *, platform: str) -> rules.Observation:
    """Strictly validate a 200 body (already JSON-decoded) into an Observation."""
    if not isinstance(body, dict):
        raise InvalidBody("body is not a JSON object")
    state = body.get("state")
    if state not in rules.STATES:
        raise InvalidBody("unknown state")
    seen_platform = body.get("platform")
    if seen_platform is not None and (
        not isinstance(seen_platform, str) or seen_platform.lower() != platform.lower()
    ):
        raise InvalidBody("another platform")
    username = body.get("username")
    if username is not None and (not isinstance(username, str) or not username):
        raise InvalidBody("username is not a string")
    if username is not None and text_problem(username):
        raise InvalidBody("username holds characters no profile name has")
    user_id = body.get("user_id")
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        user_id = str(user_id)
    if user_id is not None and (not isinstance(user_id, str) or text_problem(user_id)):
        raise InvalidBody("user_id is not a string")
    followers = body.get("followers")
    if followers is not None and not _counter(followers):
        raise InvalidBody("followers is not a whole number between 0 and 1,000,000,000")
    return rules.Observation(
        state=state,
        username=username,
        user_id=user_id or None,
        followers=followers,
        interactions=_interactions(body.get("interactions")),
    )


def _interactions(interactions: Any) -> dict[str, int] | None:
    """The counters shown (missing or null ones are unknown); None when none are shown."""
    if interactions is None:
        return None
    if not isinstance(interactions, dict):
        raise InvalidBody("interactions is not an object")
    shown: dict[str, int] = {}
    for kind in rules.INTERACTION_KINDS:
        value = interactions.get(kind)
        if value is None:
            continue
        if not _counter(value):
            raise InvalidBody(f"{kind} is not a whole number between 0 and 1,000,000,000")
        shown[kind] = value
    return shown


def _counter(value: Any) -> bool:
    """A counter a real profile can show: a whole number, not negative, not absurd (10^12 likes
    is a broken answer, and would not fit the database)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= COUNTER_MAX


def _parsed(body: bytes) -> tuple[Any, bool]:
    """(the body for evidence: parsed JSON if it is JSON, else truncated text; whether it is
    JSON), parsed once for the evidence and the profile alike."""
    if not body:
        return None, False
    try:
        return json.loads(body), True
    except (ValueError, UnicodeDecodeError, RecursionError):
        # ValueError also covers integers beyond Python's digit limit; RecursionError "[[[[…".
        return body[:RAW_TEXT_LIMIT].decode("utf-8", errors="replace"), False


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta seconds or an HTTP date), between 0 and
    RETRY_AFTER_MAX; None if unusable. Never raises, whatever the header holds."""
    if not value:
        return None
    value = value.strip()[:100]
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
            seconds = when.timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError, AttributeError):
            return None
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return min(max(0.0, seconds), RETRY_AFTER_MAX)
