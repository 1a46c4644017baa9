from django.urls import path

from compensation.health import views

# Included by config/urls.py at the root: /healthz and /metrics.
urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
]
