from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from .models import Account, Product


def stock_count(*, product_id: int) -> int:
    return Account.objects.filter(product_id=product_id, state=Account.State.IN_STOCK).count()


def products_with_stock_counts() -> QuerySet[Product]:
    return Product.objects.annotate(
        in_stock=Count("accounts", filter=Q(accounts__state=Account.State.IN_STOCK)),
        delivered=Count("accounts", filter=Q(accounts__state=Account.State.DELIVERED)),
        retired=Count("accounts", filter=Q(accounts__state=Account.State.RETIRED)),
    )
