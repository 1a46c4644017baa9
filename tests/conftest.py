from __future__ import annotations

import os

import pytest
from django.db import connection


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from django.conf import settings

    vendor_is_pg = "postgresql" in settings.DATABASES["default"]["ENGINE"]
    if os.environ.get("CI") and not vendor_is_pg:
        raise pytest.UsageError("CI must run the suite on PostgreSQL (set DATABASE_URL).")
    if vendor_is_pg:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def is_postgres() -> bool:
    return connection.vendor == "postgresql"
