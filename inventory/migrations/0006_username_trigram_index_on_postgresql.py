"""Substring search of usernames (the admin's `icontains`, i.e. UPPER(username) LIKE UPPER('%…%'))
through a trigram index on PostgreSQL. SQLite has no pg_trgm: there this migration does nothing
(a newcomer's database is small enough to scan). The index is not in the model's Meta because
it exists on one backend only."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEX = "account_username_trgm_idx"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON inventory_account "
            "USING gin ((UPPER(username::text)) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("inventory", "0005_indexes_for_stock_lists_filters_and_events")]

    operations = [
        TrigramExtension(),  # CREATE EXTENSION pg_trgm on PostgreSQL, nothing elsewhere
        migrations.RunPython(create, drop),
    ]
