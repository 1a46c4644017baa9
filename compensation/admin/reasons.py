"""Canned rejection reasons: texts managers keep so agents reject in words the customer reads."""

from __future__ import annotations

from django.contrib import admin

from compensation.models import CannedReason


@admin.register(CannedReason)
class CannedReasonAdmin(admin.ModelAdmin):
    list_display = ("id", "text", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("text",)
