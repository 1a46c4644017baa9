"""The actions on one review case (the buttons on its page). Each parses its form, calls one
review service and returns what to tell the agent; `AccountDecisionAdmin.decide_view` looks the
action up here. Conflicts (`ReviewConflict`) and refused forms (`FormRefused`) propagate: the
view shows them as errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.contrib import messages
from django.http import HttpRequest

from compensation.admin.forms import ApproveForm, OverrideForm, RejectForm
from compensation.services.review import (
    decision_override,
    review_approve,
    review_claim,
    review_recheck,
    review_reject,
    review_release,
)

REVIEW_PERM = "compensation.review_decision"
OVERRIDE_PERM = "compensation.override_decision"

# (message level, message for the agent)
Outcome = tuple[int, str]


class FormRefused(Exception):
    """The form was not valid: no service was called; the message says why."""


def permission_for(action: str) -> str:
    """Overriding a refusal is a manager's; everything else (and any unknown action) a
    reviewer's."""
    return OVERRIDE_PERM if action == "override" else REVIEW_PERM


def claim(request: HttpRequest, decision_id: int, now: datetime) -> Outcome:
    review_claim(decision_id=decision_id, actor=request.user, now=now)
    return messages.SUCCESS, "You hold this case now."


def release(request: HttpRequest, decision_id: int, now: datetime) -> Outcome:
    review_release(decision_id=decision_id, actor=request.user, now=now)
    return messages.SUCCESS, "Case released."


def approve(request: HttpRequest, decision_id: int, now: datetime) -> Outcome:
    form = ApproveForm(request.POST)
    if not form.is_valid():
        raise FormRefused(" ".join(str(e) for errors in form.errors.values() for e in errors))
    review_approve(
        decision_ids=[decision_id],
        actor=request.user,
        now=now,
        note=form.cleaned_data["note"],
        customer_message=form.cleaned_data["customer_message"],
    )
    return messages.SUCCESS, "Approved: a replacement is on its way."


def reject(request: HttpRequest, decision_id: int, now: datetime) -> Outcome:
    form = RejectForm(request.POST)
    if not form.is_valid():
        problems = " ".join(str(e) for e in form.non_field_errors())
        raise FormRefused(problems or "Invalid form.")
    review_reject(
        decision_ids=[decision_id],
        actor=request.user,
        now=now,
        customer_message=form.cleaned_data["message"],
        note=form.cleaned_data.get("note", ""),
    )
    return messages.SUCCESS, "Rejected."


def recheck(request: HttpRequest, decision_id: int, now: datetime) -> Outcome:
    entry = review_recheck(decision_id=decision_id, actor=request.user, now=now)
    state = (entry.get("observation") or {}).get("state")
    error = f" ({entry['error']})" if entry.get("error") else ""
    return messages.INFO, f"Status re-checked: {state or 'unavailable'}{error}"


def override(request: HttpRequest, decision_id: int, now: datetime) -> Outcome:
    form = OverrideForm(request.POST)
    if not form.is_valid():
        raise FormRefused("An override needs a reason.")
    decision_override(
        decision_id=decision_id,
        actor=request.user,
        now=now,
        reason=form.cleaned_data["reason"],
    )
    return messages.SUCCESS, "Override issued: a replacement is on its way."


CASE_ACTIONS: dict[str, Callable[[HttpRequest, int, datetime], Outcome]] = {
    "claim": claim,
    "release": release,
    "approve": approve,
    "reject": reject,
    "recheck": recheck,
    "override": override,
}
