"""Optional claim-rate review in the pure rule engine (policy.md, "Optional: claim-rate review"):
a flagged customer's approvals go to a person with the rule kept; nothing else changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from compensation.rules import (
    INTERACTION_KINDS,
    AccountFacts,
    Baseline,
    Observation,
    decide_account,
    rule_message,
)

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
ZERO = {kind: 0 for kind in INTERACTION_KINDS}


def _facts(state: str, *, likes: int = 0, followers: int = 250, days_ago: int = 3) -> AccountFacts:
    return AccountFacts(
        baseline=Baseline(username="ig_one", user_id="1789", followers=250, interactions=ZERO),
        observation=Observation(
            state=state,
            username="ig_one",
            user_id="1789",
            followers=followers,
            interactions={**ZERO, "likes": likes},
        ),
        password_change_warning=False,
        order_placed_at=NOW - timedelta(days=days_ago),
        now=NOW,
    )


APPROVING = [
    (_facts("locked"), "locked_no_interaction"),
    (_facts("locked", likes=1), "locked_one_interaction"),
    (_facts("active", followers=240), "followers_decreased"),
]


@pytest.mark.parametrize(("facts", "rule"), APPROVING)
def test_a_flagged_customers_approval_goes_to_a_person_with_the_rule_kept(
    facts: AccountFacts, rule: str
) -> None:
    plain = decide_account(facts)
    flagged = decide_account(replace(facts, claim_rate_flagged=True))
    assert (plain.decision, plain.rule) == ("approved", rule)
    assert (flagged.decision, flagged.rule) == ("manual_review", rule)
    assert flagged.evidence["claim_rate_flagged"] is True
    assert flagged.evidence["decision"] == "manual_review"
    assert "claim_rate_flagged" not in plain.evidence
    # Everything else in the evidence is what the unflagged check found.
    rest = {
        k: v for k, v in flagged.evidence.items() if k not in ("claim_rate_flagged", "decision")
    }
    assert rest == {k: v for k, v in plain.evidence.items() if k != "decision"}


@pytest.mark.parametrize(
    ("facts", "decision", "rule"),
    [
        (_facts("locked", likes=2), "rejected", "multiple_interactions"),
        (_facts("suspended"), "manual_review", "suspended_no_interaction"),
        (_facts("active", followers=240, days_ago=10), "rejected", "appears_active"),
    ],
)
def test_the_flag_changes_no_other_outcome(facts: AccountFacts, decision: str, rule: str) -> None:
    flagged = decide_account(replace(facts, claim_rate_flagged=True))
    assert (flagged.decision, flagged.rule) == (decision, rule)
    assert (decide_account(facts).decision, decide_account(facts).rule) == (decision, rule)


def test_the_customer_reads_that_a_person_will_check_not_that_a_replacement_comes() -> None:
    flagged = decide_account(replace(_facts("locked"), claim_rate_flagged=True))
    assert flagged.message == (
        "A member of our team will check this account before a replacement is sent. You will "
        "hear from us by e-mail."
    )
    assert "You will receive a replacement" in decide_account(_facts("locked")).message
    # Once staff approved it, the rule's own message applies again.
    assert "You will receive a replacement" in rule_message(
        "locked_no_interaction", flagged.evidence, decision="approved"
    )
