"""The compensation policy as a pure function (docs/policy.md, "Per-account decision").

Plain facts in, a `Verdict` out. No ORM, no HTTP, no clock and no settings: the caller passes
`now` and the windows. Messages are translatable (gettext_lazy) and rendered on demand.

Choices where the policy is silent (written down here and in the report):
- A naive datetime is taken to be UTC (the policy measures every window in UTC).
- The username check: when both sides carry a platform user id and they match, the observed
  username is compared with the delivered one (case-insensitively); when the user ids are known
  on both sides but *differ*, the profile found under the delivered name belongs to another
  platform account, i.e. ours was not found (manual review, `profile_not_found`); when a user id
  is unknown on either side, the observed username (if any) is compared directly.
- A `not_found` observation counts as "resolved" only if it carries the delivered user id; then a
  different username is `username_changed`. Any other `not_found` is `profile_not_found`.
- When only some counters are known and they already add up to more than one, `interactions`
  holds that known sum (a lower bound; `evidence["interactions"]["complete"]` is false).
- Claim-rate review (policy.md, optional): the caller sets `claim_rate_flagged` only when the shop
  opted in and the customer's claim rate is over its thresholds. An approval then becomes
  `manual_review` with the rule kept and `claim_rate_flagged: true` in the evidence; every other
  outcome is unchanged (the flag never turns anything into a rejection).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils.translation import gettext_lazy as _

from inventory.interactions import INTERACTION_KINDS

STATES: tuple[str, ...] = ("active", "locked", "suspended", "not_found")

APPROVED = "approved"
MANUAL_REVIEW = "manual_review"
REJECTED = "rejected"
UNVERIFIED = "unverified"

# rule code -> decision, in the policy's table order (line-level refusals last).
_RULE_DECISIONS: dict[str, str] = {
    "password_change_warning": REJECTED,
    "status_unavailable": UNVERIFIED,
    "username_changed": REJECTED,
    "profile_not_found": MANUAL_REVIEW,
    "multiple_interactions": REJECTED,
    "locked_no_interaction": APPROVED,
    "locked_one_interaction": APPROVED,
    "suspended_no_interaction": MANUAL_REVIEW,
    "suspended_one_interaction": MANUAL_REVIEW,
    "interactions_unknown": MANUAL_REVIEW,
    "followers_decreased": APPROVED,
    "appears_active": REJECTED,
    "outside_window": REJECTED,
    "already_compensated": REJECTED,
}
RULE_CODES: tuple[str, ...] = tuple(_RULE_DECISIONS)
LINE_RULES: tuple[str, ...] = ("outside_window", "already_compensated")

_MESSAGES: dict[str, Any] = {
    "password_change_warning": _(
        "You told us you saw a “Change Password” warning when logging in. That means the "
        "account's login details were changed or used after delivery, so we cannot replace it."
    ),
    "status_unavailable": _(
        "We could not check this account's public profile just now. We will check it again "
        "automatically; this does not count against you."
    ),
    "username_changed": _(
        "The account's username is no longer the one we delivered. Accounts renamed after "
        "delivery cannot be replaced."
    ),
    "profile_not_found": _(
        "We could not find this account's public profile. A member of our team will look at it "
        "and get back to you."
    ),
    "multiple_interactions": _(
        "The account was used for more than one action (posts, reposts, comments, likes, follows "
        "or messages) after delivery, so we cannot replace it."
    ),
    "locked_no_interaction": _(
        "The account is locked and was not used after delivery. You will receive a replacement "
        "of the same product."
    ),
    "locked_one_interaction": _(
        "The account is locked and was used only once after delivery. You will receive a "
        "replacement of the same product."
    ),
    "suspended_no_interaction": _(
        "The account is suspended and was not used after delivery. A member of our team will "
        "review it, because a public profile alone cannot prove a suspension."
    ),
    "suspended_one_interaction": _(
        "The account is suspended and was used only once after delivery. A member of our team "
        "will review it, because a public profile alone cannot prove a suspension."
    ),
    "interactions_unknown": _(
        "The account is locked or suspended, but its public profile does not show enough of its "
        "activity for us to decide automatically. A member of our team will review it."
    ),
    "followers_decreased": _(
        "The account lost followers within %(days)s days of your order. You will receive a "
        "replacement of the same product."
    ),
    "appears_active": _(
        "The account looks active and working. Please log in and use your accounts first; if a "
        "problem appears later, you may ask again."
    ),
    "outside_window": _(
        "This order was placed more than %(days)s days before your request, which is past the "
        "compensation window."
    ),
    "already_compensated": _(
        "This product line was already compensated in your request of %(date)s. Each line can be "
        "compensated once."
    ),
    "already_compensated_undated": _(
        "This product line was already compensated in an earlier request. Each line can be "
        "compensated once."
    ),
    # An approval held for a person (claim-rate review): never promise the replacement yet.
    "approval_held_for_review": _(
        "A member of our team will check this account before a replacement is sent. You will "
        "hear from us by e-mail."
    ),
    # A person approved what the table alone did not (review, override).
    "approved_by_staff": _(
        "A member of our team checked this account and approved it. You will receive a "
        "replacement of the same product."
    ),
}


@dataclass(frozen=True)
class Baseline:
    """The account as delivered. A missing or None counter/follower count is unknown."""

    username: str
    user_id: str
    followers: int | None
    interactions: Mapping[str, int | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Observation:
    """The public profile now. `interactions` None = not shown; a missing kind = unknown."""

    state: str
    username: str | None = None
    user_id: str | None = None
    followers: int | None = None
    interactions: Mapping[str, int] | None = None


@dataclass(frozen=True)
class AccountFacts:
    baseline: Baseline
    # None: the status service could not be read after retries.
    observation: Observation | None
    password_change_warning: bool
    order_placed_at: datetime
    now: datetime
    follower_drop_window_days: int = 7
    # Set by the caller only when the shop opted in to claim-rate review and this customer's
    # claim rate is over the thresholds: an approval then goes to a person.
    claim_rate_flagged: bool = False


@dataclass(frozen=True)
class Verdict:
    decision: str
    rule: str
    interactions: int | None
    evidence: dict[str, Any]

    @property
    def message(self) -> str:
        return rule_message(self.rule, self.evidence, decision=self.decision)


def decision_for_rule(rule: str) -> str:
    """The decision a rule code stands for (KeyError for an unknown code)."""
    return _RULE_DECISIONS[rule]


def rule_message(
    rule: str, evidence: Mapping[str, Any] | None = None, *, decision: str | None = None
) -> str:
    """The plain-language, translated customer message for a rule code. With `decision` given
    (the account's current decision), an approving rule whose approval is held for a person
    (claim-rate review) says that a person will check, not that a replacement is coming; an
    account a person approved against the rule's own outcome says that it was approved."""
    evidence = evidence or {}
    if decision == MANUAL_REVIEW and _RULE_DECISIONS.get(rule) == APPROVED:
        return str(_MESSAGES["approval_held_for_review"])
    if decision == APPROVED and _RULE_DECISIONS.get(rule) != APPROVED:
        return str(_MESSAGES["approved_by_staff"])
    if rule == "already_compensated":
        day = _iso_date(evidence.get("earlier_request_received_at"))
        if day is None:
            return str(_MESSAGES["already_compensated_undated"])
        return str(_MESSAGES["already_compensated"]) % {"date": day}
    if rule == "followers_decreased":
        return str(_MESSAGES[rule]) % {"days": evidence.get("follower_drop_window_days", 7)}
    if rule == "outside_window":
        return str(_MESSAGES[rule]) % {"days": evidence.get("claim_window_days", 30)}
    return str(_MESSAGES[rule])


def _iso_date(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return _utc(datetime.fromisoformat(value)).date().isoformat()
    except ValueError:
        return None


def _utc(moment: datetime) -> datetime:
    """Aware UTC datetime; a naive one is taken to be UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _known_id(value: str | None) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _same_name(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


def count_interactions(
    baseline: Baseline, observation: Observation | None
) -> tuple[int | None, dict[str, int | None]]:
    """Interactions since delivery: total (None = unknown) and the per-kind deltas.

    Each kind is max(0, now - baseline), None when either side does not know it. The total is
    unknown if any kind is unknown, unless the known kinds already add up to more than one (then
    the known sum is returned: it is certainly more than one).
    """
    observed = (observation.interactions if observation is not None else None) or {}
    deltas: dict[str, int | None] = {}
    for kind in INTERACTION_KINDS:
        now_value = observed.get(kind)
        base_value = baseline.interactions.get(kind)
        if now_value is None or base_value is None:
            deltas[kind] = None
        else:
            deltas[kind] = max(0, int(now_value) - int(base_value))
    known = [d for d in deltas.values() if d is not None]
    total = sum(known)
    if len(known) == len(INTERACTION_KINDS) or total > 1:
        return total, deltas
    return None, deltas


def _baseline_json(baseline: Baseline) -> dict[str, Any]:
    return {
        "username": baseline.username,
        "user_id": baseline.user_id or None,
        "followers": baseline.followers,
        "interactions": {kind: baseline.interactions.get(kind) for kind in INTERACTION_KINDS},
    }


def observation_json(observation: Observation | None) -> dict[str, Any] | None:
    if observation is None:
        return None
    interactions = None
    if observation.interactions is not None:
        interactions = {
            k: observation.interactions[k]
            for k in INTERACTION_KINDS
            if k in observation.interactions
        }
    return {
        "state": observation.state,
        "username": observation.username,
        "user_id": observation.user_id,
        "followers": observation.followers,
        "interactions": interactions,
    }


def _username_check(baseline: Baseline, observation: Observation) -> str | None:
    """'changed', 'other_account' or None (no change detected)."""
    base_id = _known_id(baseline.user_id)
    seen_id = _known_id(observation.user_id)
    ids_match = base_id is not None and seen_id is not None and base_id == seen_id
    if base_id is not None and seen_id is not None and not ids_match:
        return "other_account"
    if observation.state == "not_found" and not ids_match:
        return None  # nothing resolves it: rule 4
    if observation.username is not None and not _same_name(observation.username, baseline.username):
        return "changed"
    return None


def _rule(facts: AccountFacts, total: int | None) -> str:
    observation = facts.observation
    if facts.password_change_warning:
        return "password_change_warning"
    if observation is None:
        return "status_unavailable"
    check = _username_check(facts.baseline, observation)
    if check == "changed":
        return "username_changed"
    state = observation.state
    if state == "not_found" or check == "other_account" or state not in STATES:
        return "profile_not_found"
    if state in ("locked", "suspended"):
        if total is None:
            return "interactions_unknown"
        if total > 1:
            return "multiple_interactions"
        if state == "locked":
            return "locked_no_interaction" if total == 0 else "locked_one_interaction"
        return "suspended_no_interaction" if total == 0 else "suspended_one_interaction"
    # active
    age = _utc(facts.now) - _utc(facts.order_placed_at)
    baseline_followers = facts.baseline.followers
    if (
        age <= timedelta(days=facts.follower_drop_window_days)
        and baseline_followers is not None
        and observation.followers is not None
        and observation.followers < baseline_followers
    ):
        return "followers_decreased"
    return "appears_active"


def decide_account(facts: AccountFacts) -> Verdict:
    """Apply the policy table (rows 1-12, first match wins) to one account."""
    total, deltas = count_interactions(facts.baseline, facts.observation)
    rule = _rule(facts, total)
    decision = _RULE_DECISIONS[rule]
    if facts.claim_rate_flagged and decision == APPROVED:
        decision = MANUAL_REVIEW  # the rule stays the rule that matched
    complete = all(d is not None for d in deltas.values())
    now = _utc(facts.now)
    evidence: dict[str, Any] = {
        "rule": rule,
        "decision": decision,
        "decided_at": now.isoformat(),
        "observation": observation_json(facts.observation),
        "baseline": _baseline_json(facts.baseline),
        "interactions": {"deltas": deltas, "total": total, "complete": complete},
        "order_placed_at": _utc(facts.order_placed_at).isoformat(),
        "order_age_seconds": (now - _utc(facts.order_placed_at)).total_seconds(),
        "password_change_warning": bool(facts.password_change_warning),
        "follower_drop_window_days": facts.follower_drop_window_days,
    }
    if facts.claim_rate_flagged:
        evidence["claim_rate_flagged"] = True
    return Verdict(decision=decision, rule=rule, interactions=total, evidence=evidence)


def line_refusal(
    *,
    order_placed_at: datetime,
    now: datetime,
    claim_window_days: int,
    earlier_use_received_at: datetime | None,
) -> str | None:
    """The line-level refusal, if any: the window first, then once-only."""
    if _utc(now) - _utc(order_placed_at) > timedelta(days=claim_window_days):
        return "outside_window"
    if earlier_use_received_at is not None:
        return "already_compensated"
    return None


def line_verdict(
    *,
    rule: str,
    baseline: Baseline,
    order_placed_at: datetime,
    now: datetime,
    claim_window_days: int,
    earlier_use_received_at: datetime | None,
) -> Verdict:
    """The verdict reported on each account of a refused line (rule from `line_refusal`)."""
    if rule not in LINE_RULES:
        raise ValueError(f"not a line rule: {rule}")
    utc_now = _utc(now)
    evidence: dict[str, Any] = {
        "rule": rule,
        "decision": _RULE_DECISIONS[rule],
        "decided_at": utc_now.isoformat(),
        "observation": None,
        "baseline": _baseline_json(baseline),
        "order_placed_at": _utc(order_placed_at).isoformat(),
        "order_age_seconds": (utc_now - _utc(order_placed_at)).total_seconds(),
        "claim_window_days": claim_window_days,
        "earlier_request_received_at": (
            _utc(earlier_use_received_at).isoformat()
            if earlier_use_received_at is not None
            else None
        ),
    }
    return Verdict(decision=_RULE_DECISIONS[rule], rule=rule, interactions=None, evidence=evidence)
