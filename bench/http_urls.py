"""The application's URLs plus the anchor of the HTTP benchmarks: a minimal Django view that runs
one query and answers a small JSON body, through the same middleware as every other page."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from config.urls import urlpatterns as app_urlpatterns
from orders.models import Order


def minimal(request: HttpRequest) -> JsonResponse:
    order_ref = Order.objects.order_by("pk").values_list("order_id", flat=True).first()
    return JsonResponse({"order_id": order_ref})


urlpatterns = [path("bench/minimal", minimal), *app_urlpatterns]
