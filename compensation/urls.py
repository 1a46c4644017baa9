from django.urls import path

from compensation import assets, views

app_name = "compensation"

# The JSON API routes (compensation/api.py) are included by config/urls.py.
urlpatterns = [
    path("", views.request_form, name="request_form"),
    path("requests/<uuid:request_id>/", views.request_result, name="request_result"),
    path("orders/new-link/", views.order_link_fresh, name="order_link_fresh"),
    path("orders/link/<str:token>/", views.order_page, name="order_page"),
    path("assets/site.js", assets.site_script, name="site_script"),
]
