"""Properties of the rule engine over generated facts (hypothesis)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from compensation.rules import (
    INTERACTION_KINDS,
    RULE_CODES,
    STATES,
    AccountFacts,
    Baseline,
    Observation,
    count_interactions,
    decide_account,
    decision_for_rule,
)

counter = st.integers(min_value=0, max_value=10**9)
maybe_counter = st.none() | counter
names = st.sampled_from(["ig_one", "IG_One", "ig_ONE", "other", "New_Name"])
user_ids = st.sampled_from(["", "1789", "42"])
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)

baselines = st.builds(
    Baseline,
    username=names,
    user_id=user_ids,
    followers=maybe_counter,
    interactions=st.dictionaries(st.sampled_from(INTERACTION_KINDS), maybe_counter),
)
observations = st.builds(
    Observation,
    state=st.sampled_from(STATES),
    username=st.none() | names,
    user_id=st.none() | user_ids,
    followers=maybe_counter,
    interactions=st.none() | st.dictionaries(st.sampled_from(INTERACTION_KINDS), counter),
)
account_facts = st.builds(
    AccountFacts,
    baseline=baselines,
    observation=st.none() | observations,
    password_change_warning=st.booleans(),
    order_placed_at=moments,
    now=moments,
    follower_drop_window_days=st.integers(min_value=0, max_value=365),
)


@settings(max_examples=400, deadline=None)
@given(account_facts)
def test_total_deterministic_and_json(facts: AccountFacts) -> None:
    verdict = decide_account(facts)
    again = decide_account(facts)
    assert verdict == again
    assert verdict.rule in RULE_CODES
    assert verdict.decision == decision_for_rule(verdict.rule)
    json.loads(json.dumps(verdict.evidence, allow_nan=False))
    assert isinstance(verdict.message, str) and verdict.message


@settings(max_examples=400, deadline=None)
@given(account_facts)
def test_never_approves_more_than_one_known_interaction(facts: AccountFacts) -> None:
    verdict = decide_account(facts)
    _, deltas = count_interactions(facts.baseline, facts.observation)
    known = sum(d for d in deltas.values() if d is not None)
    if known > 1 and verdict.decision == "approved":
        # Policy row 5 covers locked/suspended accounts only; row 11 (an *active* account that
        # lost followers within the window) approves whatever its activity, as docs/policy.md says.
        assert verdict.rule == "followers_decreased"
        assert facts.observation is not None and facts.observation.state == "active"


@settings(max_examples=300, deadline=None)
@given(account_facts)
def test_never_rejects_because_the_status_service_failed(facts: AccountFacts) -> None:
    verdict = decide_account(
        AccountFacts(
            baseline=facts.baseline,
            observation=None,
            password_change_warning=facts.password_change_warning,
            order_placed_at=facts.order_placed_at,
            now=facts.now,
            follower_drop_window_days=facts.follower_drop_window_days,
        )
    )
    if facts.password_change_warning:
        assert (verdict.decision, verdict.rule) == ("rejected", "password_change_warning")
    else:
        assert (verdict.decision, verdict.rule) == ("unverified", "status_unavailable")


@settings(max_examples=200, deadline=None)
@given(baselines, observations, moments, st.integers(min_value=0, max_value=10**6))
def test_interactions_since_delivery_are_never_negative(
    base: Baseline, obs: Observation, placed: datetime, seconds: int
) -> None:
    total, deltas = count_interactions(base, obs)
    assert all(d is None or d >= 0 for d in deltas.values())
    assert total is None or total >= 0
    if total is not None and any(d is None for d in deltas.values()):
        assert total > 1  # partial counts are only reported when they prove "more than one"
    verdict = decide_account(
        AccountFacts(
            baseline=base,
            observation=obs,
            password_change_warning=False,
            order_placed_at=placed,
            now=placed + timedelta(seconds=seconds),
        )
    )
    assert verdict.interactions == total
