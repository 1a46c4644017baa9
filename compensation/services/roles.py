"""Staff roles: groups and their permissions, created or brought back in line idempotently."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction

SUPPORT_AGENTS = "Support agents"
MANAGERS = "Managers"

# "app_label.codename". Agents decide the review queue and read orders; they never see raw stock
# credentials nor change stock.
AGENT_PERMISSIONS: tuple[str, ...] = (
    "compensation.view_accountdecision",
    "compensation.change_accountdecision",
    "compensation.review_decision",
    "compensation.view_compensationrequest",
    "compensation.view_lineclaim",
    "compensation.view_replacementbatch",
    "compensation.view_inboundmessage",
    "compensation.change_inboundmessage",  # mark an e-mail handled by hand
    "orders.view_order",
    "orders.view_orderline",
    "inventory.view_event",
    "inventory.view_product",
    "compensation.view_webhookendpoint",  # a paused endpoint is shown to all staff
)

MANAGER_PERMISSIONS: tuple[str, ...] = (
    *AGENT_PERMISSIONS,
    "compensation.override_decision",
    "compensation.view_cannedreason",
    "compensation.add_cannedreason",
    "compensation.change_cannedreason",
    "compensation.delete_cannedreason",
    "compensation.view_notification",
    "inventory.add_product",
    "inventory.change_product",
    "inventory.view_account",
    "inventory.add_account",
    "inventory.change_account",
    "inventory.reveal_credentials",
    "inventory.view_importbatch",
    "inventory.add_importbatch",
    "orders.add_order",
    "orders.view_orderlink",
    "orders.change_orderlink",  # revoke a customer's order-page link
    "compensation.add_webhookendpoint",
    "compensation.change_webhookendpoint",  # also resume, new secret
    "compensation.delete_webhookendpoint",
    "compensation.view_webhookdelivery",
    "compensation.change_webhookdelivery",  # "send again"
)

ROLES: dict[str, tuple[str, ...]] = {
    SUPPORT_AGENTS: AGENT_PERMISSIONS,
    MANAGERS: MANAGER_PERMISSIONS,
}


def _permissions(names: tuple[str, ...]) -> list[Permission]:
    wanted = {tuple(name.split(".", 1)) for name in names}
    found = list(
        Permission.objects.filter(
            content_type__app_label__in={app for app, _ in wanted},
            codename__in={code for _, code in wanted},
        ).select_related("content_type")
    )
    perms = [p for p in found if (p.content_type.app_label, p.codename) in wanted]
    missing = wanted - {(p.content_type.app_label, p.codename) for p in perms}
    if missing:
        raise LookupError(f"unknown permissions (run migrate first): {sorted(missing)}")
    return perms


def roles_ensure() -> dict[str, int]:
    """Create the groups and set exactly their permissions (extra ones are removed, so a
    hand-edited group is brought back to the documented role). Returns group -> permission count."""
    result: dict[str, int] = {}
    with transaction.atomic():
        for name, perm_names in ROLES.items():
            group, _ = Group.objects.get_or_create(name=name)
            perms = _permissions(perm_names)
            group.permissions.set(perms)
            result[name] = len(perms)
    return result
