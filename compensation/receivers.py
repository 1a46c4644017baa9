"""What the compensation desk does when a lower app announces something. Connected in
`CompensationConfig.ready()` (as django-oscar does), so orders and inventory never import
compensation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from compensation.services.fulfilment import fulfilment_wake


def stock_arrived_wake_fulfilment(
    sender: Any, *, product_ids: Sequence[int], **kwargs: Any
) -> None:
    """New stock: queue, after commit, a drain of every product that has waiting batches."""
    fulfilment_wake(product_ids=product_ids)
