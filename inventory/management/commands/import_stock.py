from __future__ import annotations

from inventory.importing import stock_import

from ._importing import ImportCommand


class Command(ImportCommand):
    help = (
        "Import stock accounts from a CSV file: required sku,username,password; optional "
        "user_id,email,email_password,two_factor_secret,followers,posts,reposts,comments,likes,"
        "follows,messages,supplier,notes (blank counter = unknown). Wakes waiting compensation."
    )
    file_help = "CSV file (UTF-8) of stock accounts"
    service = staticmethod(stock_import)
