# The audit event, until now orders.Event, belongs to inventory (the lowest layer: every app
# writes it). State only: the table keeps its name `orders_event` and its rows; `kind` loses its
# choices (each app declares its kinds in its own events.py, so a new kind needs no migration).
# The content type is renamed so existing permissions (view_event, …) and group grants follow.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _content_type_to(app_label):
    def rename(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        other = "orders" if app_label == "inventory" else "inventory"
        if not ContentType.objects.filter(app_label=app_label, model="event").exists():
            ContentType.objects.filter(app_label=other, model="event").update(app_label=app_label)

    return rename


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("inventory", "0002_initial"),
        ("orders", "0003_event_moves_to_inventory"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Event",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("at", models.DateTimeField(db_index=True)),
                        ("kind", models.CharField(max_length=40)),
                        ("request_id", models.UUIDField(blank=True, db_index=True, null=True)),
                        ("batch_id", models.BigIntegerField(blank=True, db_index=True, null=True)),
                        ("message", models.TextField(blank=True, default="")),
                        ("data", models.JSONField(blank=True, default=dict)),
                        (
                            "account",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="events",
                                to="inventory.account",
                            ),
                        ),
                        (
                            "actor",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "order",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="events",
                                to="orders.order",
                            ),
                        ),
                    ],
                    options={"db_table": "orders_event", "ordering": ["at", "id"]},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(_content_type_to("inventory"), _content_type_to("orders")),
    ]
