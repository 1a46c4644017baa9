"""Customer forms: parse and validate input only; the services decide.

The web form (`CompensationRequestForm`) and the JSON API (`ApiSubmissionForm`) share one base
(`SubmissionForm`): the same fields for the e-mail address and the order id, the same limits and
the same messages. They differ only where the input does: the web form has a reason to pick, free
text and SKUs typed in one box; the API has the reason as text and `lines` as a JSON list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import MaxLengthValidator
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext_lazy as _

from inventory.validation import storable_text, text_problem

MAX_EMAIL = 254  # Order.email
MAX_ORDER_ID = 64  # Order.order_id
MAX_REASON = 2000  # the customer's own words
MAX_SKUS = 50  # product codes in one request
MAX_SKU = 64  # Product.sku

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
# Commas, semicolons and new lines separate product codes; spaces do not (a code may hold them).
_SKU_SPLIT = re.compile(r"[,;\n]+")
_TOO_MANY_SKUS = _("Please list at most %(n)d products.")
_BAD_SKU = _("A product SKU has at most %(n)d characters and no null characters.")
UNPAIRED_SURROGATE = _("Invalid Unicode (an unpaired surrogate) is not allowed.")


def storable_text_check(value: str) -> None:
    """What PostgreSQL cannot store: NUL (Django's own validator says so first) and unpaired
    surrogates, which a JSON body's "\ud800" escape produces."""
    if text_problem(value) is not None:
        raise ValidationError(UNPAIRED_SURROGATE, code="unstorable")


def skus_check(skus: list[str]) -> list[str]:
    """The limits on the product codes of one request, for both forms (before duplicates are
    dropped: they count against the limit too)."""
    if len(skus) > MAX_SKUS:
        raise ValidationError(_TOO_MANY_SKUS, params={"n": MAX_SKUS}, code="max_skus")
    if any(len(sku) > MAX_SKU or text_problem(sku) is not None for sku in skus):
        raise ValidationError(_BAD_SKU, params={"n": MAX_SKU}, code="bad_sku")
    return skus


class _OneMessageField(forms.CharField):
    """One message per field: the length first, then the other validators, stopping at the
    first that fails (a NUL byte in an address is "not a valid address", not two messages)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.append(storable_text_check)

    def run_validators(self, value: Any) -> None:
        if value in self.empty_values:
            return
        ordered = sorted(self.validators, key=lambda v: not isinstance(v, MaxLengthValidator))
        for validator in ordered:
            try:
                validator(value)
            except ValidationError as error:
                code = getattr(error, "code", None)
                if code is not None and code in self.error_messages:
                    error.message = self.error_messages[code]
                raise


class EmailAddressField(_OneMessageField, forms.EmailField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_EMAIL)
        super().__init__(**kwargs)
        self.error_messages["invalid"] = _("Enter a valid e-mail address.")
        self.error_messages["max_length"] = _(
            "An e-mail address has at most %(limit_value)d characters."
        )


class OrderIdField(_OneMessageField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_ORDER_ID)
        super().__init__(**kwargs)
        self.error_messages["max_length"] = _("An order id has at most %(limit_value)d characters.")


class ReasonTextField(_OneMessageField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_REASON)
        super().__init__(**kwargs)
        self.error_messages["max_length"] = _("At most %(limit_value)d characters.")


class SubmissionForm(forms.Form):
    """The fields every way of asking for compensation shares."""

    email = EmailAddressField(
        label=_("Your e-mail address"),
        help_text=_("The address you used for the order."),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"}),
    )
    order_id = OrderIdField(
        label=_("Order number"),
        help_text=_("As shown in your order confirmation, for example A1001."),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"}
        ),
    )

    def clean_order_id(self) -> str:
        return str(self.cleaned_data["order_id"]).strip()


class ReasonFields(forms.Form):
    """What went wrong, in the customer's words: the web form and the claim on the order page."""

    reason = forms.ChoiceField(
        label=_("What went wrong?"),
        choices=[(code, _REASON_LABELS[code]) for code, _english in REASONS],
        widget=forms.RadioSelect,
    )
    details = ReasonTextField(
        label=_("Tell us more (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    password_change_warning = forms.TypedChoiceField(
        label=_("When you logged in, did you see a “Change Password” warning?"),
        choices=[("no", _("No")), ("yes", _("Yes"))],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        help_text=_("Answer honestly: this decides whether we can replace the account."),
    )

    def reason_text(self, *, usernames: list[str] | None = None) -> str:
        """The reason as stored for staff: the chosen reason in English, then the free text
        (naming the accounts the customer ticked, unless the text already does)."""
        english = dict(REASONS)[self.cleaned_data["reason"]]
        details = str(self.cleaned_data.get("details") or "").strip()
        missing = [u for u in usernames or [] if u not in details]
        if missing:
            named = "Accounts: " + ", ".join(missing)
            details = f"{named}\n{details}" if details else named
        return f"{english}: {details}" if details else english


class CompensationRequestForm(SubmissionForm, ReasonFields):
    field_order = ["email", "order_id", "reason", "details", "password_change_warning", "skus"]

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

    def clean_skus(self) -> list[str] | None:
        raw = str(self.cleaned_data.get("skus") or "")
        skus = skus_check([part.strip() for part in _SKU_SPLIT.split(raw) if part.strip()])
        return list(dict.fromkeys(skus)) or None


class OrderClaimForm(ReasonFields):
    """A claim from the signed order page: the customer ticks lines (and, to name them in the
    reason, accounts); the order and its e-mail address come from the link."""

    field_order = ["lines", "accounts", "reason", "details", "password_change_warning"]

    lines = forms.TypedMultipleChoiceField(
        label=_("Which products?"),
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Tick at least one product.")},
    )
    accounts = forms.TypedMultipleChoiceField(
        label=_("Which accounts? (optional)"), coerce=int, required=False
    )

    def __init__(
        self,
        *args: Any,
        lines: list[tuple[int, str]],
        accounts: list[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("prefix", "claim")
        super().__init__(*args, **kwargs)
        self.fields["lines"].choices = lines  # type: ignore[attr-defined]
        self.fields["accounts"].choices = accounts  # type: ignore[attr-defined]
        self.fields["details"].widget.attrs.update(
            {"data-claim-details": "", "data-prefix": "Accounts: "}
        )
        self._usernames = dict(accounts)

    def ticked_usernames(self) -> list[str]:
        return [self._usernames[i] for i in self.cleaned_data.get("accounts") or []]


# --- the JSON API ------------------------------------------------------------------------------


MISSING = object()  # a key the JSON object does not have (unlike an explicit null)


class _JsonValue(forms.Widget):
    """Hands a field the parsed JSON value as it is (no HTML-form coercion of its type)."""

    def value_from_datadict(
        self, data: Mapping[str, Any], files: MultiValueDict[str, UploadedFile], name: str
    ) -> Any:
        return data.get(name, MISSING)

    def value_omitted_from_data(
        self, data: Mapping[str, Any], files: MultiValueDict[str, UploadedFile], name: str
    ) -> bool:
        return name not in data


def _json_text(value: Any, *, numbers: bool = False) -> str:
    """JSON text as text (and, where `numbers`, a whole number as its digits); anything else is
    treated as missing."""
    if isinstance(value, str):
        return value
    if numbers and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


class _JsonEmailField(EmailAddressField):
    def to_python(self, value: Any) -> str:
        return str(super().to_python(_json_text(value)))


class _JsonOrderIdField(OrderIdField):
    def to_python(self, value: Any) -> str:
        return str(super().to_python(_json_text(value, numbers=True)))


class _JsonReasonField(ReasonTextField):
    def to_python(self, value: Any) -> str:
        return str(super().to_python(_json_text(value)))


class _JsonBooleanField(forms.Field):
    default_error_messages = {"invalid": _("Must be true or false.")}

    def to_python(self, value: Any) -> bool:
        if value is MISSING:
            return False
        if not isinstance(value, bool):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return value


class _JsonSkuListField(forms.Field):
    default_error_messages = {"invalid": _("Must be a list of product SKUs.")}

    def to_python(self, value: Any) -> list[str]:
        if value is None or value is MISSING:
            return []
        if not isinstance(value, list) or not all(isinstance(s, str) and s.strip() for s in value):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return skus_check([sku.strip() for sku in value])


class ApiSubmissionForm(SubmissionForm):
    """The body of `POST /api/v1/compensation-requests` (docs/api.md), bound to the parsed
    JSON object: `ApiSubmissionForm(body)`."""

    FIELDS = ("email", "order_id", "reason", "password_change_warning", "lines")

    email = _JsonEmailField(widget=_JsonValue)
    order_id = _JsonOrderIdField(widget=_JsonValue)
    reason = _JsonReasonField(
        widget=_JsonValue, error_messages={"required": _("Tell us briefly what happened.")}
    )
    password_change_warning = _JsonBooleanField(required=False, widget=_JsonValue)
    lines = _JsonSkuListField(required=False, widget=_JsonValue)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        unknown = sorted(set(self.data) - set(self.FIELDS))
        if unknown:
            names = ", ".join(storable_text(name) for name in unknown)
            raise ValidationError(_("Unknown field(s): %(f)s") % {"f": names})
        return cleaned

    def errors_json(self) -> dict[str, list[str]]:
        """{field or "__all__": [message, …]} as docs/api.md answers a 400."""
        return {field: [str(m) for m in messages] for field, messages in self.errors.items()}


class FreshLinkForm(forms.Form):
    order_id = OrderIdField(
        label=_("Order number"),
        help_text=_("We will send a new link to the e-mail address on the order."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def clean_order_id(self) -> str:
        return str(self.cleaned_data["order_id"]).strip()
