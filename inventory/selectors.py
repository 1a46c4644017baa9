from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from .models import Account, Product


def stock_count(*, product_id: int) -> int:
    return Account.objects.filter(product_id=product_id, state=Account.State.IN_STOCK).count()


def _accounts_in_state(state: str) -> Coalesce:
    """How many accounts of the outer product are in `state`: a count over the (product, state)
    index of that product alone, not a join of every account with every product."""
    counted = (
        Account.objects.filter(product=OuterRef("pk"), state=state)
        .order_by()
        .values("product")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def products_with_stock_counts() -> QuerySet[Product]:
    return Product.objects.annotate(
        in_stock=_accounts_in_state(Account.State.IN_STOCK),
        delivered=_accounts_in_state(Account.State.DELIVERED),
        retired=_accounts_in_state(Account.State.RETIRED),
    )
