from django.contrib import admin
from django.urls import include, path

from compensation.admin.reports import quality_report_view, retire_stock_view
from compensation.api import urlpatterns as api_urlpatterns
from compensation.health.urls import urlpatterns as health_urlpatterns
from orders.api import urlpatterns as orders_api_urlpatterns

urlpatterns = [
    # Back-office reports, behind the admin's login (before the admin's catch-all patterns).
    path(
        "admin/reports/quality/",
        admin.site.admin_view(quality_report_view),
        name="backoffice_quality_report",
    ),
    path(
        "admin/reports/retire-stock/",
        admin.site.admin_view(retire_stock_view),
        name="backoffice_retire_stock",
    ),
    path("admin/", admin.site.urls),
    *api_urlpatterns,
    *health_urlpatterns,
    *orders_api_urlpatterns,
    path("", include("compensation.urls")),
]

# A 403 with a way back (the admin's look for staff pages).
handler403 = "compensation.error_views.permission_denied"
