"""The account states and their sentences (pure: no database)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest

from compensation import customer_messages as words
from compensation import rules
from compensation.customer_states import (
    CUSTOMER_EVIDENCE_KEYS,
    AccountState,
    BatchFacts,
    DecisionFacts,
    EarlierFacts,
    EarlierRequest,
    account_status,
    customer_evidence,
    earlier_outcome,
)

T0 = datetime(2026, 11, 26, 9, 5, tzinfo=UTC)
T1 = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)


def _status(**kwargs):
    return account_status(DecisionFacts(**{"rule": "", "reviewed": False, **kwargs}))


@pytest.mark.parametrize(
    ("facts", "state"),
    [
        ({"decision": "pending"}, AccountState.CHECKING),
        ({"decision": "unverified", "rule": "status_unavailable"}, AccountState.RECHECK),
        ({"decision": "manual_review", "rule": "profile_not_found"}, AccountState.WITH_PERSON),
        (
            {"decision": "approved", "batch": BatchFacts(None, T0, None)},
            AccountState.APPROVED,
        ),
        (
            {"decision": "approved", "batch": BatchFacts(None, T0, T0, 2)},
            AccountState.WAITING_FOR_STOCK,
        ),
        (
            {"decision": "approved", "batch": BatchFacts(T1, T0, T0)},
            AccountState.DELIVERED,
        ),
        ({"decision": "rejected", "rule": "appears_active"}, AccountState.NOT_REPLACED),
        ({"decision": "rejected", "rule": "already_compensated"}, AccountState.ALREADY_COMPENSATED),
    ],
)
def test_each_decision_maps_to_one_state(facts, state) -> None:
    assert _status(**facts).state == state


def test_dates_have_one_format_in_text_and_html() -> None:
    assert words.format_day(T1) == "27 November 2026"
    assert words.format_moment(T1) == "27 November 2026, 14:30 UTC"
    assert words.time_html(T1) == (
        '<time datetime="2026-11-27T14:30:00Z" data-format="moment">'
        "27 November 2026, 14:30 UTC</time>"
    )


def test_html_and_text_say_the_same_words() -> None:
    status = _status(decision="approved", batch=BatchFacts(None, T0, T0, 3))
    sentence = words.account_sentence(status)

    assert sentence.text == (
        "Approved. Your replacement is waiting for stock since 26 November 2026, 09:05 UTC; it is "
        "number 3 in the queue for this product. We will deliver it and e-mail you as soon as "
        "stock arrives."
    )
    assert re.sub(r"<[^>]+>", "", str(sentence.html)) == sentence.text


def test_a_reviewer_message_is_escaped_in_html_and_kept_in_text() -> None:
    status = _status(
        decision="approved",
        reviewed=True,
        customer_message="Sorry <b>again</b>",
        batch=BatchFacts(T1, T0, None),
    )
    sentence = words.account_sentence(status)

    assert "Their message: “Sorry <b>again</b>”" in sentence.text
    assert "Sorry &lt;b&gt;again&lt;/b&gt;" in sentence.html
    assert "will review" not in sentence.text


def test_a_person_approving_replaces_the_will_review_wording() -> None:
    waiting = words.account_sentence(
        _status(decision="manual_review", rule="suspended_no_interaction")
    )
    approved = words.account_sentence(
        _status(
            decision="approved",
            rule="suspended_no_interaction",
            reviewed=True,
            customer_message="Checked by hand.",
            batch=BatchFacts(T1, T0, None),
        )
    )

    assert "will review" in waiting.text
    assert approved.text == (
        "Our team reviewed this account and approved a replacement. Their message: “Checked by "
        "hand.” Your replacement was delivered on 27 November 2026, 14:30 UTC; it is on your "
        "order page, marked “Compensate Product”."
    )


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (
            EarlierRequest.USED,
            "This product was already compensated in your request of 26 November 2026.",
        ),
        (
            EarlierRequest.OPEN,
            "Your earlier request of 26 November 2026 for this product is still being handled",
        ),
        (EarlierRequest.RELEASED, "ended without a replacement, so you may ask again"),
    ],
)
def test_already_compensated_tells_what_became_of_the_earlier_request(outcome, expected) -> None:
    status = _status(
        decision="rejected",
        rule="already_compensated",
        earlier=EarlierFacts(uuid.uuid4(), T0, outcome),
    )

    assert expected in words.account_sentence(status).text
    assert "2026-11-26" not in words.account_sentence(status).text


def test_earlier_outcome() -> None:
    assert earlier_outcome(decisions=["rejected", "approved"], still_uses_line=True) == "used"
    assert earlier_outcome(decisions=["rejected", "manual_review"], still_uses_line=True) == "open"
    assert earlier_outcome(decisions=["rejected", "rejected"], still_uses_line=False) == "released"


def test_the_headline_names_exactly_what_is_open() -> None:
    statuses = [
        _status(decision="manual_review", rule="profile_not_found"),
        _status(decision="manual_review", rule="suspended_no_interaction"),
        _status(decision="manual_review", rule="interactions_unknown"),
        _status(decision="approved", batch=BatchFacts(T1, T0, None)),
        _status(decision="rejected", rule="appears_active"),
    ]

    assert words.request_headline(statuses) == "Still open: 3 accounts are waiting for a person."
    assert words.request_headline(statuses[3:]) == (
        "Every account has a decision and every replacement has been delivered."
    )
    assert words.request_headline(statuses[4:]) == "Every account has a decision."
    assert [(s.value, n) for s, n in words.state_counts(statuses)] == [
        ("with_person", 3),
        ("delivered", 1),
        ("not_replaced", 1),
    ]


def _evidence_every_producer_writes() -> dict[str, object]:
    """The evidence keys of both verdict producers of compensation.rules, with values other than
    the defaults the sentences fall back to."""
    base = rules.Baseline(username="ig_one", user_id="1", followers=250)
    account = rules.decide_account(
        rules.AccountFacts(
            baseline=base,
            observation=rules.Observation(state="locked", username="ig_one", followers=100),
            password_change_warning=False,
            order_placed_at=T0,
            now=T1,
            follower_drop_window_days=9,
            claim_rate_flagged=True,
        )
    ).evidence
    line = rules.line_verdict(
        rule="already_compensated",
        baseline=base,
        order_placed_at=T0,
        now=T1,
        claim_window_days=21,
        earlier_use_received_at=T0,
    ).evidence
    return {**account, **line}


@pytest.mark.parametrize("rule", rules.RULE_CODES)
@pytest.mark.parametrize(
    "decision", ["pending", "unverified", "manual_review", "approved", "rejected"]
)
@pytest.mark.parametrize("reviewed", [False, True])
def test_the_words_read_only_the_customer_evidence_keys(rule, decision, reviewed) -> None:
    """A view carries only CUSTOMER_EVIDENCE_KEYS (so the ORM and the prepared statement read the
    same): a sentence that read any other key of the evidence would change here."""
    full = _evidence_every_producer_writes()
    batch = BatchFacts(None, T0, None) if decision == "approved" else None

    def sentence(evidence):
        facts = DecisionFacts(
            decision=decision, rule=rule, reviewed=reviewed, evidence=evidence, batch=batch
        )
        return words.account_sentence(account_status(facts))

    assert set(customer_evidence(full)) == set(CUSTOMER_EVIDENCE_KEYS)
    assert sentence(customer_evidence(full)) == sentence(full)
    assert rules.rule_message(rule, customer_evidence(full), decision=decision) == (
        rules.rule_message(rule, full, decision=decision)
    )
