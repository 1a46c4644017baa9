"""What keeps the review list fast on a shop-sized table, kept apart from the queue's columns
and pages (compensation/admin/queue.py):

* the list never reads the evidence JSON, notes or credentials (a sort over 76k decisions
  used to carry every evidence document, and spilled to disk);
* no second count of the whole table for "n of N" (`show_full_result_count`);
* search (parts of the customer's e-mail, the order id, an account username, the agent's
  username) resolved first through the indexes of those tables into ids, then one indexed
  filter on the decisions.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from compensation.models import CompensationRequest
from inventory.admin_mixins import CappedCountPaginator, ids_or_subquery
from inventory.models import Account
from orders.models import Order

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

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return LeanChangeList

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        """The queue's search as issue 11 defined it (each word: part of the customer's e-mail,
        the order id, an account username or the agent's username), without joining four
        tables on every row: orders, requests, accounts and agents are looked up first through
        their own indexes (trigram indexes on PostgreSQL), then the decisions are filtered on
        three indexed columns at once."""
        for term in search_term.split():
            orders = Order.objects.filter(Q(order_id__icontains=term) | Q(email__icontains=term))
            requests = CompensationRequest.objects.filter(
                Q(email__icontains=term) | Q(order_id__in=ids_or_subquery(orders))
            )
            accounts = Account.objects.filter(username__icontains=term)
            agents = get_user_model().objects.filter(username__icontains=term)
            queryset = queryset.filter(
                Q(request_id__in=ids_or_subquery(requests))
                | Q(account_id__in=ids_or_subquery(accounts))
                | Q(claimed_by_id__in=list(agents.values_list("pk", flat=True)))
            )
        return queryset, False
