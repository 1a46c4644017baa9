"""The forms staff fill in to decide review cases (one case or a selection)."""

from __future__ import annotations

from typing import Any

from django import forms

from compensation.models import CannedReason


class ApproveForm(forms.Form):
    customer_message = forms.CharField(
        label="Message to the customer (optional, added to the approval)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    note = forms.CharField(
        label="Internal note", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class CannedReasonChoice(forms.ModelChoiceField):
    """Each canned reason in full (a radio list, not a dropdown that cuts long texts)."""

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.text)


class RejectForm(forms.Form):
    canned_reason = CannedReasonChoice(
        label="Reason for the customer",
        queryset=CannedReason.objects.filter(active=True),
        required=False,
        empty_label=None,
        widget=forms.RadioSelect,
    )
    customer_message = forms.CharField(
        label="…or in your own words (shown to the customer)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    note = forms.CharField(
        label="Internal note", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        message = (data.get("customer_message") or "").strip()
        canned = data.get("canned_reason")
        if not message and canned is not None:
            message = canned.text
        if not message:
            raise forms.ValidationError("A rejection needs a reason the customer will read.")
        data["message"] = message
        return data


class OverrideForm(forms.Form):
    reason = forms.CharField(
        label="Reason for the override", widget=forms.Textarea(attrs={"rows": 3})
    )
