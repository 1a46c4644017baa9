"""Substring search of the e-mail a customer typed on a request (the review queue's search)
through a trigram index on PostgreSQL; nothing on SQLite (see inventory 0006)."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEX = "request_email_trgm_idx"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON compensation_compensationrequest "
            "USING gin ((UPPER(email::text)) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("compensation", "0008_indexes_for_queue_lists_search_and_wakeups")]

    operations = [TrigramExtension(), migrations.RunPython(create, drop)]
