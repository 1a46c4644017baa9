"""inventory.choices: the labels a page reads once are the ones each row's
get_<field>_display() would give."""

from __future__ import annotations

import pytest
from django.db.models import Field, Model

from compensation.models import AccountDecision
from inventory.choices import choice_labels
from inventory.models import Account


@pytest.mark.parametrize(
    ("model", "field", "display"),
    [
        (Account, "state", "get_state_display"),
        (Account, "delivery_kind", "get_delivery_kind_display"),
        (Account, "platform", "get_platform_display"),
        (AccountDecision, "decision", "get_decision_display"),
    ],
)
def test_labels_read_once_are_each_rows_display(
    model: type[Model], field: str, display: str
) -> None:
    labels = choice_labels(model, field)
    model_field = model._meta.get_field(field)
    assert isinstance(model_field, Field)
    values = [value for value, _label in model_field.flatchoices]

    assert values and list(labels) == values
    for value in [*values, "not-a-choice"]:
        assert labels.get(value, value) == getattr(model(**{field: value}), display)()


def test_a_replacement_reads_compensate_product() -> None:
    assert choice_labels(Account, "delivery_kind") == {
        "sale": "Sale",
        "compensation": "Compensate Product",
    }
