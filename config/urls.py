from django.contrib import admin
from django.urls import include, path

from compensation.api import urlpatterns as api_urlpatterns
from compensation.health.urls import urlpatterns as health_urlpatterns
from orders.api import urlpatterns as orders_api_urlpatterns

urlpatterns = [
    path("admin/", admin.site.urls),
    *api_urlpatterns,
    *health_urlpatterns,
    *orders_api_urlpatterns,
    path("", include("compensation.urls")),
]
