"""Back office for requests by e-mail.

- `InboundMessageInline`: on a request's page, every mail that led to it (sender, subject, when,
  what the desk understood, the reply); attached to the request admin in `requests.py`.
- `InboundMessageAdmin`: every mail read; by default the ones waiting for a person (not
  understood, over the rate limit, follow-ups in an answered thread, failures), with the action
  "Mark handled" (calls `compensation.intake.service.messages_close`).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from compensation.intake.service import messages_close
from compensation.models import InboundMessage
from inventory.admin_mixins import ReadOnlyAdminMixin


def understood_summary(message: InboundMessage) -> str:
    understood = message.understood or {}
    if message.skip_reason:
        return f"not answered: {message.skip_reason}"
    parts = []
    if understood.get("order_id"):
        parts.append(f"order {understood['order_id']}")
    elif message.outcome == InboundMessage.Outcome.NOT_UNDERSTOOD:
        candidates = ", ".join(understood.get("candidates") or []) or "none"
        parts.append(f"no order of the sender (numbers found: {candidates})")
    if understood:
        seen = "yes" if understood.get("password_change_warning") else "no"
        parts.append(f"“Change Password” warning: {seen}")
    if understood.get("warning_sentence"):
        parts.append(f"(“{understood['warning_sentence']}”)")
    if understood.get("other_order_ids"):
        parts.append("also mentions " + ", ".join(understood["other_order_ids"]))
    return "; ".join(parts) or "—"


class InboundMessageInline(ReadOnlyAdminMixin, admin.StackedInline):
    model = InboundMessage
    fk_name = "request"
    extra = 0
    can_delete = False
    verbose_name = "e-mail from the customer"
    verbose_name_plural = "e-mails from the customer"
    fields = ("sender", "subject", "arrived_at", "understood_text", "reply", "text")
    readonly_fields = fields

    @admin.display(description="what the desk understood")
    def understood_text(self, obj: InboundMessage) -> str:
        return understood_summary(obj)

    @admin.display(description="reply")
    def reply(self, obj: InboundMessage) -> str:
        if not obj.reply_kind:
            return "none"
        sent = f"sent {obj.reply_sent_at:%Y-%m-%d %H:%M}" if obj.reply_sent_at else "not sent yet"
        return f"{obj.get_reply_kind_display()} ({sent})"


class NeedsPersonFilter(admin.SimpleListFilter):
    """Defaults to the mail waiting for a person: the list staff work through."""

    title = "waiting for a person"
    parameter_name = "waiting"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Waiting for a person"), ("all", "All e-mails")]

    def choices(self, changelist: Any) -> Any:
        for lookup, title in self.lookup_choices:
            yield {
                "selected": (self.value() or "yes") == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if (self.value() or "yes") == "yes":
            return queryset.filter(needs_attention=True)
        return queryset


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("arrived_at", "sender", "subject", "outcome", "understood_text", "request_link")
    list_filter = (NeedsPersonFilter, "outcome", "skip_reason")
    search_fields = ("sender", "subject", "message_id")
    date_hierarchy = "arrived_at"
    list_select_related = ("request",)
    actions = ["mark_handled"]
    fields = (
        "sender",
        "subject",
        "sent_at",
        "arrived_at",
        "read_at",
        "outcome",
        "skip_reason",
        "understood_text",
        "request_link",
        "reply_kind",
        "reply_sent_at",
        "needs_attention",
        "closed_at",
        "closed_by",
        "size",
        "truncated",
        "attachments",
        "message_id",
        "text",
    )
    readonly_fields = fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # "Mark handled" on the list needs the change permission; a message's page stays
        # read-only (the action's service is the only writer).
        if obj is not None:
            return False
        return bool(request.user.has_perm("compensation.change_inboundmessage"))

    @admin.display(description="what the desk understood")
    def understood_text(self, obj: InboundMessage) -> str:
        return understood_summary(obj)

    @admin.display(description="request")
    def request_link(self, obj: InboundMessage) -> str:
        if obj.request_id is None:
            return "—"
        url = reverse("admin:compensation_compensationrequest_change", args=[obj.request_id])
        return format_html('<a href="{}">{}</a>', url, obj.request_id)

    @admin.action(
        description="Mark handled (leaves the list of e-mails waiting for a person)",
        permissions=["change"],
    )
    def mark_handled(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> None:
        closed = messages_close(
            message_ids=list(queryset.values_list("pk", flat=True)),
            actor=request.user,
            now=timezone.now(),
        )
        self.message_user(request, f"{closed} e-mail(s) marked handled.", messages.SUCCESS)
