"""What inventory announces. Inventory knows nothing of its listeners: the compensation desk
connects its receivers in `CompensationConfig.ready()` (compensation/receivers.py)."""

from __future__ import annotations

from django.dispatch import Signal

# New free stock of some products (an import, an admin upload, a restock). Sent inside the
# writing transaction with `product_ids` (sorted, distinct); receivers that cause side effects
# defer them with `transaction.on_commit`, so a rolled-back import wakes nobody.
stock_arrived = Signal()
