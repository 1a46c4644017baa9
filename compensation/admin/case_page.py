"""What the page of one review case shows: the evidence as a table (raw JSON only for managers,
behind a toggle), the customer's history across their orders, what this agent may do now, and
the forms to do it."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from compensation.admin.case_actions import OVERRIDE_PERM
from compensation.admin.evidence import evidence_view
from compensation.admin.forms import ApproveForm, OverrideForm, RejectForm
from compensation.customer_history import customer_history
from compensation.models import AccountDecision
from compensation.selectors_backoffice import case_events, waiting_cases
from compensation.services.review import review_case_access


def case_title(case: AccountDecision) -> str:
    """E.g. "Case #4 — instagram:ig_anna (IG-AGED), order A1001"."""
    account = case.account
    return (
        f"Case #{case.pk} — {account.platform}:{account.username} ({account.product.sku}), "
        f"order {case.request.order.order_id}"
    )


def case_page_context(request: HttpRequest, case: AccountDecision) -> dict[str, Any]:
    now = timezone.now()
    access = review_case_access(decision=case, actor=request.user, now=now)
    order = case.request.order
    is_manager = request.user.has_perm(OVERRIDE_PERM)
    others_waiting = waiting_cases(user_id=request.user.pk, now=now).exclude(pk=case.pk).count()
    return {
        "title": case_title(case),
        "subtitle": None,  # the title says it all (the admin would repeat the object's name)
        "case": case,
        "ev": evidence_view(case),
        "claim_rate_flagged": bool((case.evidence or {}).get("claim_rate_flagged")),
        "history": customer_history(
            email=order.email, before=case.request.received_at, exclude_request_id=case.request_id
        ),
        "raw_evidence": (
            json.dumps(case.evidence, indent=2, sort_keys=True, default=str) if is_manager else None
        ),
        "claimed_by_other": access.claimed_by_other,
        "claimed_by_me": access.claimed_by_me,
        "can_decide": access.can_decide,
        "can_override": access.can_override,
        "others_waiting": others_waiting,
        "approve_form": ApproveForm(),
        "reject_form": RejectForm(),
        "override_form": OverrideForm(),
        "decide_url": reverse("admin:compensation_accountdecision_decide", args=[case.pk]),
        "queue_url": reverse("admin:compensation_accountdecision_changelist"),
        "request_url": reverse(
            "admin:compensation_compensationrequest_change", args=[case.request_id]
        ),
        "order_url": reverse("admin:orders_order_change", args=[order.pk]),
        "case_events": case_events(request_id=case.request_id, account_id=case.account_id),
        "show_save": False,
        "show_save_and_continue": False,
        "show_save_and_add_another": False,
        "show_delete": False,
    }
