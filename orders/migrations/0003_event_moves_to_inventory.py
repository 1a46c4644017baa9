# The audit event moves to the inventory app (the lowest layer: every app writes it). Only
# Django's model state changes here; the table `orders_event` and its rows stay where they are
# (inventory.0003_event_from_orders takes the model over with db_table="orders_event").

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0002_event_kinds"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Event")],
            database_operations=[],
        ),
    ]
