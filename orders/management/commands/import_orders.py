from __future__ import annotations

from inventory.management.commands._importing import ImportCommand
from orders.services import orders_import


class Command(ImportCommand):
    help = (
        "Import orders from a JSON list. Lines with quantity are sales allocated from stock now "
        "(all or none); lines with accounts record accounts delivered before (their baselines)."
    )
    file_help = "JSON file (UTF-8): a list of orders"
    service = staticmethod(orders_import)
