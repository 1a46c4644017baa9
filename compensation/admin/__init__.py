"""Back office of the compensation desk, one module per screen: the review queue (`queue`, with
its one-case actions in `case_actions`), requests (`requests`), replacement batches (`batches`),
canned rejection reasons (`reasons`), e-mails received (`intake`), webhook endpoints and
deliveries (`webhooks`), the requests shown on the order admin (`order_links`) and the report
pages (`reports`: supplier and stock quality, retiring a bad source's stock; routed in
config/urls.py). Importing the modules registers their admins.

The admin parses input, calls one service and renders; every write lives in
`compensation.services`. Nothing here ever shows stock credentials.
"""

from django.contrib import admin

from compensation.admin import batches, intake, order_links, queue, reasons, requests, webhooks

# The admin home is the back office's start page (templates/admin/index.html shows the work).
admin.site.site_header = "Compensation desk · back office"
admin.site.site_title = "Compensation desk"
admin.site.index_title = "Back office"

__all__ = ["batches", "intake", "order_links", "queue", "reasons", "requests", "webhooks"]
