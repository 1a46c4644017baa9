from django.contrib import admin
from django.urls import include, path

from compensation.api import urlpatterns as api_urlpatterns
from orders.api import urlpatterns as orders_api_urlpatterns

urlpatterns = [
    path("admin/", admin.site.urls),
    *api_urlpatterns,
    *orders_api_urlpatterns,
    path("", include("compensation.urls")),
]
