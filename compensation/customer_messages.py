"""The sentences a customer reads, one per account state, and the one date format.

Every channel takes its words from here: the result page and the order page (HTML, where times
are `<time>` elements a small script may show in the reader's zone), the API `message` (text)
and the e-mails (text and HTML). A `Sentence` carries both renderings of the same words, so they
cannot drift apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils import dateformat
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from compensation import rules
from compensation.customer_states import (
    OPEN_STATES,
    STATE_ORDER,
    AccountState,
    AccountStatus,
    EarlierRequest,
)

DAY_FORMAT = "j F Y"
MOMENT_FORMAT = "j F Y, H:i"


# --- dates: one format on every page and in every e-mail ---------------------------------------


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_day(moment: datetime) -> str:
    """27 November 2026 (the UTC day)."""
    return dateformat.format(_utc(moment), DAY_FORMAT)


def format_moment(moment: datetime) -> str:
    """27 November 2026, 14:05 UTC."""
    return f"{dateformat.format(_utc(moment), MOMENT_FORMAT)} UTC"


def _iso(moment: datetime) -> str:
    return _utc(moment).isoformat().replace("+00:00", "Z")


def time_html(moment: datetime, *, day_only: bool = False) -> SafeString:
    """A `<time>` element whose text is the UTC wording; site.js may show it in local time."""
    return format_html(
        '<time datetime="{}" data-format="{}">{}</time>',
        _iso(moment),
        "day" if day_only else "moment",
        format_day(moment) if day_only else format_moment(moment),
    )


@dataclass(frozen=True)
class Day:
    """A value shown as a date only."""

    moment: datetime


Value = str | int | datetime | Day


@dataclass(frozen=True)
class Sentence:
    """The same words as plain text (API, text e-mails) and as HTML (pages, HTML e-mails)."""

    text: str
    html: SafeString

    def __str__(self) -> str:
        return self.text

    def __add__(self, other: Sentence) -> Sentence:
        if not other.text:
            return self
        if not self.text:
            return other
        return Sentence(f"{self.text} {other.text}", mark_safe(f"{self.html} {other.html}"))  # noqa: S308 - both halves are SafeStrings built here


EMPTY = Sentence("", mark_safe(""))


def sentence(template: str, **values: Value) -> Sentence:
    """Fill a translated template (`%(name)s` placeholders) for text and for HTML."""
    text_values: dict[str, str] = {}
    html_values: dict[str, str] = {}
    for name, value in values.items():
        if isinstance(value, Day):
            text_values[name] = format_day(value.moment)
            html_values[name] = time_html(value.moment, day_only=True)
        elif isinstance(value, datetime):
            text_values[name] = format_moment(value)
            html_values[name] = time_html(value)
        else:
            text_values[name] = str(value)
            html_values[name] = str(conditional_escape(str(value)))
    text = template % text_values if values else template
    html = (
        str(conditional_escape(template)) % html_values if values else conditional_escape(template)
    )
    return Sentence(text, mark_safe(html))  # noqa: S308 - escaped above, values escaped


# --- one sentence per state --------------------------------------------------------------------

_WHY_WITH_PERSON = {
    "profile_not_found": lambda: _("We could not find this account's public profile."),
    "suspended_no_interaction": lambda: _(
        "The account is suspended, and a public profile alone cannot prove a suspension."
    ),
    "suspended_one_interaction": lambda: _(
        "The account is suspended, and a public profile alone cannot prove a suspension."
    ),
    "interactions_unknown": lambda: _(
        "The account is locked or suspended, but its public profile does not show enough of its "
        "activity to decide automatically."
    ),
    "status_unavailable": lambda: _(
        "We could not read this account's public profile after several tries."
    ),
}

_WHY_APPROVED_BY_RULES = {
    "locked_no_interaction": lambda ev: sentence(
        _("Approved: the account is locked and was not used after delivery.")
    ),
    "locked_one_interaction": lambda ev: sentence(
        _("Approved: the account is locked and was used only once after delivery.")
    ),
    "followers_decreased": lambda ev: sentence(
        _("Approved: the account lost followers within %(days)s days of your order."),
        days=ev.get("follower_drop_window_days", 7),
    ),
}


def _approval(status: AccountStatus) -> Sentence:
    if status.by_person:
        approved = sentence(_("Our team reviewed this account and approved a replacement."))
        if status.reviewer_message:
            approved += sentence(_("Their message: “%(message)s”"), message=status.reviewer_message)
        return approved
    why = _WHY_APPROVED_BY_RULES.get(status.rule)
    return why(status.evidence) if why else sentence(_("Approved."))


def _already_compensated(status: AccountStatus) -> Sentence:
    earlier = status.earlier
    when = earlier.received_at if earlier else None
    outcome = earlier.outcome if earlier else EarlierRequest.USED
    if when is None:
        return sentence(
            _(
                "This product was already compensated in an earlier request. Each product on an "
                "order can be compensated once."
            )
        )
    if outcome == EarlierRequest.OPEN:
        return sentence(
            _(
                "Your earlier request of %(date)s for this product is still being handled; we "
                "will e-mail you its outcome. Each product on an order can be compensated once."
            ),
            date=Day(when),
        )
    if outcome == EarlierRequest.RELEASED:
        return sentence(
            _(
                "Your earlier request of %(date)s for this product ended without a replacement, "
                "so you may ask again for this product."
            ),
            date=Day(when),
        )
    return sentence(
        _(
            "This product was already compensated in your request of %(date)s. Each product on "
            "an order can be compensated once."
        ),
        date=Day(when),
    )


def account_sentence(status: AccountStatus) -> Sentence:
    """The one thing the customer reads about this account, wherever they read it."""
    state = status.state
    if state == AccountState.CHECKING:
        return sentence(_("We are checking this account's public profile now."))
    if state == AccountState.RECHECK:
        if status.next_check_at is None:
            return sentence(
                _(
                    "We could not read this account's public profile yet. We will check it again "
                    "automatically soon; this never counts against you."
                )
            )
        return sentence(
            _(
                "We could not read this account's public profile yet. We will check it again "
                "automatically after %(when)s; this never counts against you."
            ),
            when=status.next_check_at,
        )
    if state == AccountState.WITH_PERSON:
        why = _WHY_WITH_PERSON.get(status.rule)
        return (sentence(why()) if why else EMPTY) + sentence(
            _("A member of our team will review this account and e-mail you the outcome.")
        )
    if state == AccountState.APPROVED:
        return _approval(status) + sentence(
            _("We are preparing your replacement of the same product now.")
        )
    if state == AccountState.WAITING_FOR_STOCK:
        assert status.waiting_since is not None
        return _approval(status) + sentence(
            _(
                "Your replacement is waiting for stock since %(since)s; it is number %(position)s "
                "in the queue for this product. We will deliver it and e-mail you as soon as "
                "stock arrives."
            ),
            since=status.waiting_since,
            position=status.queue_position or 1,
        )
    if state == AccountState.DELIVERED:
        assert status.delivered_at is not None
        return _approval(status) + sentence(
            _(
                "Your replacement was delivered on %(when)s; it is on your order page, marked "
                "“Compensate Product”."
            ),
            when=status.delivered_at,
        )
    if state == AccountState.ALREADY_COMPENSATED:
        return _already_compensated(status)
    if status.by_person:
        return sentence(
            _("Our team reviewed this account and cannot replace it: %(message)s"),
            message=status.reviewer_message or _("no reason given."),
        )
    return sentence(rules.rule_message(status.rule, status.evidence))


def line_sentence(
    *,
    holder_received_at: datetime | None,
    holder_outcome: EarlierRequest | None,
    window_ends_at: datetime,
    window_open: bool,
    days_left: int,
) -> Sentence:
    """What the order page says about one line: the request that holds its one compensation, or
    how long it can still be claimed."""
    if holder_received_at is not None and holder_outcome == EarlierRequest.OPEN:
        return sentence(
            _(
                "Your request of %(date)s for this product is being handled; we will e-mail you "
                "its outcome."
            ),
            date=Day(holder_received_at),
        )
    if holder_received_at is not None:
        return sentence(
            _(
                "This product was compensated in your request of %(date)s. Each product on an "
                "order can be compensated once."
            ),
            date=Day(holder_received_at),
        )
    if not window_open:
        return sentence(
            _("This product can no longer be compensated: its window closed on %(date)s."),
            date=Day(window_ends_at),
        )
    left = (
        ngettext("%(n)d day left", "%(n)d days left", days_left) % {"n": days_left}
        if days_left
        else _("less than a day left")
    )
    return sentence(
        _("Can be compensated until %(when)s (%(left)s)."), when=window_ends_at, left=left
    )


def state_label(status: AccountStatus) -> str:
    """The short badge next to an account."""
    return _STATE_LABELS[status.state]()


# Translated when asked for (the active language), one at a time: the result page asks for one
# per account and per counter.
_STATE_LABELS = {
    AccountState.CHECKING: lambda: _("Being checked"),
    AccountState.RECHECK: lambda: _("Will be checked again"),
    AccountState.WITH_PERSON: lambda: _("Waiting for a person"),
    AccountState.APPROVED: lambda: _("Approved"),
    AccountState.WAITING_FOR_STOCK: lambda: _("Approved, waiting for stock"),
    AccountState.DELIVERED: lambda: _("Replacement delivered"),
    AccountState.NOT_REPLACED: lambda: _("Not replaced"),
    AccountState.ALREADY_COMPENSATED: lambda: _("Compensated in another request"),
}


def _open_part(state: AccountState, n: int) -> str:
    parts = {
        AccountState.CHECKING: lambda: ngettext(
            "%(n)d account is being checked", "%(n)d accounts are being checked", n
        ),
        AccountState.RECHECK: lambda: ngettext(
            "%(n)d account will be checked again automatically",
            "%(n)d accounts will be checked again automatically",
            n,
        ),
        AccountState.WITH_PERSON: lambda: ngettext(
            "%(n)d account is waiting for a person", "%(n)d accounts are waiting for a person", n
        ),
        AccountState.APPROVED: lambda: ngettext(
            "%(n)d replacement is being prepared", "%(n)d replacements are being prepared", n
        ),
        AccountState.WAITING_FOR_STOCK: lambda: ngettext(
            "%(n)d replacement is waiting for stock", "%(n)d replacements are waiting for stock", n
        ),
    }
    return parts[state]() % {"n": n}


def state_counts(statuses: Iterable[AccountStatus]) -> list[tuple[AccountState, int]]:
    counts = Counter(s.state for s in statuses)
    return [(state, counts[state]) for state in STATE_ORDER if counts[state]]


def count_label(state: AccountState, n: int) -> str:
    return f"{_STATE_LABELS[state]()}: {n}"


def request_headline(statuses: list[AccountStatus]) -> str:
    """The banner of the result page: exactly what is still open, or that nothing is."""
    if not statuses:
        return _("This request has no accounts to check.")
    open_counts = [(s, n) for s, n in state_counts(statuses) if s in OPEN_STATES]
    if not open_counts:
        if any(s.state == AccountState.DELIVERED for s in statuses):
            return _("Every account has a decision and every replacement has been delivered.")
        return _("Every account has a decision.")
    parts = [_open_part(state, n) for state, n in open_counts]
    return _("Still open: %(items)s.") % {"items": "; ".join(parts)}


def open_count(statuses: Iterable[AccountStatus]) -> int:
    return sum(1 for s in statuses if s.is_open)


def counts_by_state(statuses: Iterable[AccountStatus]) -> Mapping[AccountState, int]:
    return dict(state_counts(statuses))
