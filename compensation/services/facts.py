"""The rule engine's facts, read from the database in one place (`compensation.rules` is pure:
it never sees a model). Used by the checks, by submission (line refusals) and by staff re-checks.
"""

from __future__ import annotations

from compensation import rules
from compensation.models import AccountDecision
from inventory.models import INTERACTION_KINDS, Account


def account_baseline(account: Account) -> rules.Baseline:
    return rules.Baseline(
        username=account.username,
        user_id=account.platform_user_id,
        followers=account.baseline_followers,
        interactions={kind: getattr(account, f"baseline_{kind}") for kind in INTERACTION_KINDS},
    )


def account_facts(
    *,
    decision: AccountDecision,
    observation: rules.Observation | None,
    claim_rate_flagged: bool = False,
) -> rules.AccountFacts:
    """Everything the rules need to decide one account of a request, given what the status
    service observed. The windows are judged at the moment the request was received, never at
    the time of the check (needs `account`, `request__order` and `claim__line__product`).
    `claim_rate_flagged`: the shop opted in to claim-rate review and this customer is flagged."""
    request = decision.request
    return rules.AccountFacts(
        baseline=account_baseline(decision.account),
        observation=observation,
        password_change_warning=request.password_change_warning,
        order_placed_at=request.order.placed_at,
        now=request.received_at,
        follower_drop_window_days=decision.claim.line.product.follower_drop_window_days,
        claim_rate_flagged=claim_rate_flagged,
    )
