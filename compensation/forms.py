"""Customer forms: parse and validate input only; the services decide."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

# Stored in English for the staff who read the request, shown translated to the customer.
REASONS: list[tuple[str, str]] = [
    ("account_locked", "Account locked"),
    ("account_suspended", "Account suspended"),
    ("cannot_log_in", "Cannot log in"),
    ("followers_dropped", "Followers dropped"),
    ("other", "Other"),
]
_REASON_LABELS = {
    "account_locked": _("An account is locked"),
    "account_suspended": _("An account is suspended"),
    "cannot_log_in": _("I cannot log in to an account"),
    "followers_dropped": _("An account lost followers"),
    "other": _("Something else"),
}
_SKU_SPLIT = re.compile(r"[\s,;]+")


class CompensationRequestForm(forms.Form):
    email = forms.EmailField(
        label=_("Your e-mail address"),
        help_text=_("The address you used for the order."),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"}),
    )
    order_id = forms.CharField(
        label=_("Order number"),
        help_text=_("As shown in your order confirmation, for example A1001."),
        max_length=64,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"}
        ),
    )
    reason = forms.ChoiceField(
        label=_("What went wrong?"),
        choices=[(code, _REASON_LABELS[code]) for code, _english in REASONS],
        widget=forms.RadioSelect,
    )
    details = forms.CharField(
        label=_("Tell us more (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    password_change_warning = forms.TypedChoiceField(
        label=_("When you logged in, did you see a “Change Password” warning?"),
        choices=[("no", _("No")), ("yes", _("Yes"))],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        help_text=_("Answer honestly: this decides whether we can replace the account."),
    )
    skus = forms.CharField(
        label=_("Which products? (optional)"),
        required=False,
        max_length=1000,
        help_text=_(
            "Leave empty to ask about every product on the order, or type the product codes (SKU) "
            "separated by commas."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def clean_order_id(self) -> str:
        return str(self.cleaned_data["order_id"]).strip()

    def clean_skus(self) -> list[str] | None:
        raw = str(self.cleaned_data.get("skus") or "")
        skus = [part for part in _SKU_SPLIT.split(raw.strip()) if part]
        if len(skus) > 50:
            raise forms.ValidationError(_("Please list at most 50 products."))
        return list(dict.fromkeys(skus)) or None

    def reason_text(self) -> str:
        """The reason as stored for staff: the chosen reason in English, then the free text."""
        english = dict(REASONS)[self.cleaned_data["reason"]]
        details = str(self.cleaned_data.get("details") or "").strip()
        return f"{english}: {details}" if details else english


class FreshLinkForm(forms.Form):
    order_id = forms.CharField(
        label=_("Order number"),
        help_text=_("We will send a new link to the e-mail address on the order."),
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def clean_order_id(self) -> str:
        return str(self.cleaned_data["order_id"]).strip()
