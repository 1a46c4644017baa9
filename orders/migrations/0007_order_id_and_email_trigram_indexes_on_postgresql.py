"""Substring search of order ids and e-mails (the review queue's search, `icontains`, i.e.
UPPER(column) LIKE UPPER('%…%')) through trigram indexes on PostgreSQL; nothing on SQLite (see
inventory 0006)."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = {
    "order_ref_trgm_idx": "UPPER(order_id::text)",
    "order_email_trgm_idx": "UPPER(email::text)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, expression in INDEXES.items():
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON orders_order "
                f"USING gin (({expression}) gin_trgm_ops)"
            )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("orders", "0006_indexes_for_order_search_and_lists")]

    operations = [TrigramExtension(), migrations.RunPython(create, drop)]
