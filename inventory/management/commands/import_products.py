from __future__ import annotations

from inventory.importing import products_import

from ._importing import ImportCommand


class Command(ImportCommand):
    help = "Import products from a CSV file with the columns sku,name,platform."
    file_help = "CSV file (UTF-8): sku,name,platform"
    service = staticmethod(products_import)
