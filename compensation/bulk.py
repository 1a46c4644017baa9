"""Set-based multi-row UPDATE for hot paths (Django's `bulk_update` spends
seconds in Python building CASE expressions — measured 2.6 s for 1,000 decisions).

On PostgreSQL: one `UPDATE … FROM unnest(array, …)` statement whose values travel as typed arrays.
Elsewhere (SQLite for newcomers) it falls back to `bulk_update`.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models


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
    columns = [pk.column]
    casts = [f"{pk.db_type(connection)}[]"]
    arrays: list[list[object]] = [[row.pk for row in rows]]
    for name in fields:
        field = meta.get_field(name)
        assert isinstance(field, models.Field)
        columns.append(field.column)
        casts.append(f"{field.db_type(connection)}[]")
        arrays.append(
            [field.get_db_prep_save(getattr(row, field.attname), connection) for row in rows]
        )
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    unnest = ", ".join(f"%s::{cast}" for cast in casts)
    names = ", ".join(quote(c) for c in columns)
    assignments = ", ".join(f"{quote(c)} = v.{quote(c)}" for c in columns[1:])
    sql = (
        f"UPDATE {table} SET {assignments} FROM unnest({unnest}) AS v({names}) "  # noqa: S608
        f"WHERE {table}.{quote(pk.column)} = v.{quote(pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)
        return cursor.rowcount
