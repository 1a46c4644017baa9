"""Admin building blocks shared by every app's back office. Only Django is imported here, so
`orders` and `compensation` can use them without `inventory` (the lowest layer) knowing them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.admin import AllValuesFieldListFilter
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Field, Model, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils import formats, timezone
from django.utils.functional import cached_property
from django.utils.html import format_html


class ReadOnlyAdminMixin:
    """Viewable, never added, changed or deleted through the admin: the rows are written by
    services (imports, events, decisions). For a ModelAdmin or an inline (`obj` is optional
    because inlines pass it to `has_add_permission` and model admins do not)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def distinct_values(model: type[Model], field_name: str, *, limit: int = 200) -> list[Any]:
    """The distinct non-null values of one column, smallest first, found by walking an index on
    it (one index probe per value, a "loose index scan") instead of reading the whole table
    as `SELECT DISTINCT` does. Plain SQL both PostgreSQL and SQLite run; give the column an
    index."""
    quote = connection.ops.quote_name
    field = model._meta.get_field(field_name)
    assert isinstance(field, Field) and field.column
    table, column = quote(model._meta.db_table), quote(field.column)
    sql = (
        f"WITH RECURSIVE walk(value) AS ("  # noqa: S608 - names from the model, limit an int
        f" SELECT MIN({column}) FROM {table}"
        f" UNION ALL"
        f" SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > walk.value)"
        f" FROM walk WHERE walk.value IS NOT NULL"
        f") SELECT value FROM walk WHERE value IS NOT NULL LIMIT {int(limit)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


class IndexedValuesFieldListFilter(AllValuesFieldListFilter):
    """Django's "all values" filter without its whole-table `SELECT DISTINCT`: the choices come
    from `distinct_values` (an index walk). For a local column with an index."""

    def __init__(
        self,
        field: Field[Any, Any],
        request: HttpRequest,
        params: dict[str, Any],
        model: type[Model],
        model_admin: Any,
        field_path: str,
    ) -> None:
        super().__init__(field, request, params, model, model_admin, field_path)
        self.lookup_choices = distinct_values(model, field.name)  # type: ignore[assignment]


def ids_or_subquery(queryset: QuerySet[Any], *, limit: int = 1000) -> list[Any] | QuerySet[Any]:
    """The primary keys `queryset` selects, as a literal list when there are at most `limit`
    (the database then combines index scans, even across an OR), else as a subquery."""
    ids = list(queryset.values_list("pk", flat=True)[: limit + 1])
    return ids if len(ids) <= limit else queryset.values("pk")


class BoundedFormSet(BaseInlineFormSet):
    """An inline formset showing at most `limit` rows (in the inline queryset's order)."""

    limit = 50

    def get_queryset(self) -> QuerySet[Any]:
        if not hasattr(self, "_bounded"):
            self._bounded = super().get_queryset()[: self.limit]
        return self._bounded


class BoundedInlineMixin:
    """A read-only inline that shows the first `bounded_limit` rows of its queryset and, when
    there are more, a link to the full list (`bounded_full_list_url`): the page costs the same
    for a request with 10 rows or 10,000. The inline's queryset decides the order (newest first
    for audit trails)."""

    bounded_limit = 50
    template = "admin/edit_inline/bounded_tabular.html"
    bounded_more = ""

    def bounded_full_list_url(self, obj: Any) -> str:
        raise NotImplementedError

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(  # type: ignore[misc]
            request,
            obj,
            formset=type("Bounded", (BoundedFormSet,), {"limit": self.bounded_limit}),
            **kwargs,
        )
        self.bounded_more = ""
        if obj is not None:
            fk = _fk_name(formset)
            total = self.get_queryset(request).filter(**{fk: obj}).count()  # type: ignore[attr-defined]
            if total > self.bounded_limit:
                self.bounded_more = format_html(
                    'Showing {} of {}. <a href="{}">See all {} →</a>',
                    self.bounded_limit,
                    total,
                    self.bounded_full_list_url(obj),
                    total,
                )
        return formset


def _fk_name(formset: Any) -> str:
    return str(formset.fk.name)


class CappedCountPaginator(Paginator):
    """Counts at most `cap` rows (a `COUNT(*)` over a `LIMIT cap + 1` subquery), so a list of
    450k accounts or events costs the same as one of 10k; the page then reads "more than
    10,000". Pages stay reachable up to the cap; filters and search narrow the rest."""

    cap = 10_000

    @cached_property
    def count(self) -> int:
        # No ORDER BY: the database counts through whichever index filters best.
        capped = self.object_list.order_by()[: self.cap + 1]  # type: ignore[attr-defined]
        counted = capped.count()
        return min(counted, self.cap + 1)

    @property
    def capped(self) -> bool:
        return self.count > self.cap


def when_display(moment: datetime | None) -> str:
    """A date and time as the admin shows them everywhere (its DATETIME_FORMAT, in the current
    time zone), so custom columns and pages never add a second format."""
    if moment is None:
        return "—"
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")
