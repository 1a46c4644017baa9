"""Shared set-up for the benchmark scripts: a throwaway PostgreSQL database, migrated, dropped
after. Benchmarks are scripts that print their figures, never timed unit tests."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _server_url() -> str:
    """The PostgreSQL server of BENCH_PG_URL, else of DATABASE_URL when that is PostgreSQL, else
    the local one (the database named in the URL itself is never touched)."""
    from urllib.parse import urlsplit, urlunsplit

    url = os.environ.get("BENCH_PG_URL") or os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        url = "postgres://postgres@127.0.0.1:5432"
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


PG_ADMIN_URL = _server_url()


@contextlib.contextmanager
def throwaway_database(name: str) -> Iterator[None]:
    """Create `name` on the local PostgreSQL, point Django at it, migrate; drop it afterwards."""
    import psycopg

    sys.path.insert(0, str(ROOT))
    with psycopg.connect(f"{PG_ADMIN_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = f"{PG_ADMIN_URL}/{name}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    try:
        import django
        from django.apps import apps

        if apps.ready:
            # A second throwaway database in the same process: point the connection at it.
            from django.db import connections

            connections.close_all()
            connections["default"].settings_dict["NAME"] = name
        else:
            django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        yield
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(f"{PG_ADMIN_URL}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
