"""Set-based multi-row UPDATE for hot paths (Django's `bulk_update` spends
seconds in Python building CASE expressions — measured 2.6 s for 1,000 decisions).

On PostgreSQL: one `UPDATE … FROM jsonb_to_recordset(%s)` statement. Every value of every row
travels inside ONE JSON document, typed by the column list: the driver quotes one string
instead of escaping each element of one array per column (1,000 evidence documents cost 0.4 s
of regex quoting that way). Elsewhere (SQLite for newcomers) it falls back to `bulk_update`.
"""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import connection, models


def _plain(value: Any) -> Any:
    """A database-ready value as JSON: psycopg's JSON wrappers give up their object."""
    return getattr(value, "obj", value) if type(value).__name__ in ("Json", "Jsonb") else value


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    raise TypeError(f"cannot send {type(value).__name__} in a row update")


def rows_update(
    model: type[models.Model], rows: Sequence[models.Model], fields: Sequence[str]
) -> int:
    """Write `fields` of each row (matched by primary key) in one statement; returns the count."""
    if not rows:
        return 0
    if connection.vendor != "postgresql":
        return model._default_manager.bulk_update(rows, list(fields), batch_size=500)
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    quote = connection.ops.quote_name
    columns: list[tuple[str, str, Any]] = [(pk.column, str(pk.db_type(connection)), pk)]
    for name in fields:
        field = meta.get_field(name)
        assert isinstance(field, models.Field) and field.column
        columns.append((field.column, str(field.db_type(connection)), field))
    records = [
        {
            column: _plain(
                row.pk
                if field is pk
                else field.get_db_prep_save(getattr(row, field.attname), connection)
            )
            for column, _type, field in columns
        }
        for row in rows
    ]
    table = quote(meta.db_table)
    typed = ", ".join(f"{quote(column)} {db_type}" for column, db_type, _field in columns)
    assignments = ", ".join(f"{quote(c)} = v.{quote(c)}" for c, _t, _f in columns[1:])
    sql = (
        f"UPDATE {table} SET {assignments} "  # noqa: S608 - names from the model
        f"FROM jsonb_to_recordset(%s::jsonb) AS v({typed}) "
        f"WHERE {table}.{quote(pk.column)} = v.{quote(pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(records, default=_json_default)])
        return cursor.rowcount
