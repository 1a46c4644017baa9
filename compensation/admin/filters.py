"""List filters of the review queue: waiting/decided, age, claims, rule, platform, product."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from compensation.models import AccountDecision, Decision
from inventory.models import Platform, Product


class QueueFilter(admin.SimpleListFilter):
    """Waiting for review by default; decided cases stay readable."""

    title = "queue"
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("waiting", "Waiting for review"),
            ("reviewed", "Decided by staff"),
            ("all", "All decisions"),
        ]

    def choices(self, changelist: ChangeList) -> Any:
        current = self.value() or "waiting"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": current == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value() or "waiting"
        if value == "waiting":
            return queryset.filter(decision=Decision.MANUAL_REVIEW)
        if value == "reviewed":
            return queryset.filter(reviewed=True)
        return queryset


class AgeFilter(admin.SimpleListFilter):
    title = "waiting for"
    parameter_name = "age"
    DAYS = {"1d": 1, "3d": 3, "7d": 7}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("1d", "more than 1 day"), ("3d", "more than 3 days"), ("7d", "more than 7 days")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        days = self.DAYS.get(self.value() or "")
        if days is None:
            return queryset
        return queryset.filter(review_requested_at__lt=timezone.now() - timedelta(days=days))


class AssignmentFilter(admin.SimpleListFilter):
    title = "claimed"
    parameter_name = "claimed"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("mine", "by me"), ("unassigned", "unassigned"), ("others", "by others")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        active = Q(claimed_by__isnull=False, claimed_until__gt=now)
        value = self.value()
        if value == "mine":
            return queryset.filter(active, claimed_by=request.user)
        if value == "unassigned":
            return queryset.exclude(active)
        if value == "others":
            return queryset.filter(active).exclude(claimed_by=request.user)
        return queryset


class RuleFilter(admin.SimpleListFilter):
    title = "rule"
    parameter_name = "rule"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        rules = (
            AccountDecision.objects.exclude(rule="")
            .order_by("rule")
            .values_list("rule", flat=True)
            .distinct()
        )
        return [(r, r) for r in rules]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(rule=self.value()) if self.value() else queryset


class PlatformFilter(admin.SimpleListFilter):
    title = "platform"
    parameter_name = "platform"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(Platform.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(account__platform=self.value()) if self.value() else queryset


class ProductFilter(admin.SimpleListFilter):
    title = "product"
    parameter_name = "product"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(p.id), p.sku) for p in Product.objects.order_by("sku")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(account__product_id=self.value()) if self.value() else queryset
