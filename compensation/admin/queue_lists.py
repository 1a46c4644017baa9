"""What keeps the review list fast on a shop-sized table, kept apart from the queue's columns
and pages (compensation/admin/queue.py):

* the list never reads the evidence JSON, notes or credentials (a sort over 76k decisions
  used to carry every evidence document, and spilled to disk);
* no second count of the whole table for "n of N" (`show_full_result_count`);
* search by an exact order id or part of a username, resolved first through the indexes of
  the order and account tables into ids, then one indexed filter on the decisions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from compensation.models import CompensationRequest
from inventory.admin_mixins import CappedCountPaginator, ids_or_subquery
from inventory.models import Account

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# Wide columns the list never shows.
LIST_DEFERRED = (
    "evidence",
    "review_note",
    "customer_message",
    "account__credentials_sealed",
    "request__reason",
    "request__requested_skus",
)


class LeanChangeList(ChangeList):
    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> QuerySet[Any]:
        return super().get_queryset(request, exclude_parameters).defer(*LIST_DEFERRED)


class QueueListPerformanceMixin:
    show_full_result_count = False
    paginator: ClassVar[type[Paginator]] = CappedCountPaginator
    search_help_text: ClassVar[StrOrPromise | None] = "An order id (exactly) or part of a username."

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return LeanChangeList

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        for term in search_term.split():
            requests = CompensationRequest.objects.filter(order__order_id__iexact=term)
            accounts = Account.objects.filter(username__icontains=term)
            queryset = queryset.filter(
                Q(request_id__in=list(requests.values_list("pk", flat=True)))
                | Q(account_id__in=ids_or_subquery(accounts))
            )
        return queryset, False
