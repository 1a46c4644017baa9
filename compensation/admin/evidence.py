"""The review page's evidence table: what the account looked like at delivery beside what the
status service showed, with the deltas the rules counted."""

from __future__ import annotations

from typing import Any

from compensation.admin.display import age_display
from compensation.models import AccountDecision
from inventory.models import INTERACTION_KINDS


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def evidence_view(decision: AccountDecision) -> dict[str, Any]:
    """Baseline vs observation, read defensively from the evidence the rules wrote (older or
    partial evidence falls back to the account's stored baseline)."""
    evidence = _dict(decision.evidence)
    account = decision.account
    baseline = _dict(evidence.get("baseline"))
    observation = _dict(evidence.get("observation"))
    base_inter = _dict(baseline.get("interactions")) or account.baseline_interactions
    obs_inter = _dict(observation.get("interactions"))
    deltas = _dict(_dict(evidence.get("interactions")).get("deltas"))
    rows = [
        {
            "label": "username",
            "baseline": baseline.get("username", account.username),
            "observation": observation.get("username"),
            "delta": None,
        },
        {
            "label": "platform user id",
            "baseline": baseline.get("user_id", account.platform_user_id or None),
            "observation": observation.get("user_id"),
            "delta": None,
        },
        {
            "label": "state",
            "baseline": "delivered",
            "observation": observation.get("state"),
            "delta": None,
        },
        {
            "label": "followers",
            "baseline": baseline.get("followers", account.baseline_followers),
            "observation": observation.get("followers"),
            "delta": None,
        },
    ]
    for kind in INTERACTION_KINDS:
        rows.append(
            {
                "label": kind,
                "baseline": base_inter.get(kind),
                "observation": obs_inter.get(kind),
                "delta": deltas.get(kind),
            }
        )
    request = decision.request
    order_age = None
    if request is not None and request.order is not None:
        order_age = request.received_at - request.order.placed_at
    interactions = _dict(evidence.get("interactions"))
    return {
        "rows": rows,
        "observation_missing": not observation,
        "interactions_total": interactions.get("total", decision.interactions),
        "interactions_complete": interactions.get("complete"),
        "order_age": age_display(order_age),
        "rule": decision.rule or evidence.get("rule") or "—",
        "status_error": _dict(evidence.get("status_service")).get("error"),
        "rechecks": [r for r in evidence.get("rechecks", []) if isinstance(r, dict)],
    }
