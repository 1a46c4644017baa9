"""The architecture, checked: dependencies point one way (compensation -> orders -> inventory) and
the rule engine stays pure. See docs/architecture.md.

Imports are read from the source (the AST of every file, imports inside functions included), so
a lazy import cannot hide a dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db.models import Model

ROOT = Path(__file__).resolve().parent.parent

# app -> the apps it must never import (anything else it may).
FORBIDDEN: dict[str, set[str]] = {
    "inventory": {"orders", "compensation"},
    "orders": {"compensation"},
}

# The pure rule engine: no ORM, no HTTP, no clock.
RULES = ROOT / "compensation" / "rules.py"
RULES_FORBIDDEN_MODULES = (
    "django.db",
    "django.apps",
    "django.contrib",
    "django.utils.timezone",
    "requests",
    "urllib3",
    "httpx",
    "http",
    "urllib.request",
    "socket",
    "time",
    "compensation.models",
    "inventory.models",
    "orders.models",
)
CLOCK_CALLS = {"now", "utcnow", "today", "time", "time_ns", "monotonic", "perf_counter"}
CLOCK_OWNERS = {"datetime", "date", "time", "timezone"}


@dataclass(frozen=True)
class Imported:
    path: Path
    line: int
    module: str  # absolute dotted name
    names: tuple[str, ...] = ()


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, module: str) -> Iterator[Imported]:
    """Every import statement of a file (the module `module`), at any depth, with relative
    imports made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module.split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Imported(path, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            yield Imported(path, node.lineno, name, tuple(a.name for a in node.names))


def violations(files: list[tuple[Path, str]], forbidden: set[str]) -> list[str]:
    """Every import of a forbidden app in these (path, module) files, as "module:line imports x"."""
    found = []
    for path, module in files:
        for imported in imports_of(path, module):
            if imported.module.split(".")[0] in forbidden:
                found.append(f"{module}:{imported.line} imports {imported.module}")
    return found


def app_files(app: str) -> list[tuple[Path, str]]:
    return [(path, module_name(path)) for path in sorted((ROOT / app).rglob("*.py"))]


@pytest.mark.parametrize("app", sorted(FORBIDDEN))
def test_lower_apps_never_import_the_apps_above_them(app: str) -> None:
    files = app_files(app)
    assert len(files) > 10  # the walk found the app
    assert violations(files, FORBIDDEN[app]) == []


def test_the_import_scan_sees_imports_inside_functions_and_relative_ones(tmp_path: Path) -> None:
    """The checker itself: a lazy, dotted or relative import of compensation is caught."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from .models import Account\n"
        "def later():\n"
        "    from compensation.services import fulfilment\n"
        "    import compensation.tasks\n"
        "    from ..compensation import rules\n"
        "    from orders.links import order_link_issue\n",
        encoding="utf-8",
    )
    assert violations([(probe, "inventory.probe")], FORBIDDEN["inventory"]) == [
        "inventory.probe:3 imports compensation.services",
        "inventory.probe:4 imports compensation.tasks",
        "inventory.probe:5 imports compensation",
        "inventory.probe:6 imports orders.links",
    ]


def _forbidden_in_rules(name: str) -> bool:
    return any(name == bad or name.startswith(bad + ".") for bad in RULES_FORBIDDEN_MODULES)


def rules_problems(path: Path) -> list[str]:
    problems = []
    for imported in imports_of(path, "compensation.rules"):
        names = [f"{imported.module}.{name}" for name in imported.names]
        bad = [n for n in [imported.module, *names] if _forbidden_in_rules(n)]
        if bad:
            problems.append(f"line {imported.line}: imports {bad[0]}")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in CLOCK_CALLS
            and isinstance(node.value, ast.Name)
            and node.value.id in CLOCK_OWNERS
        ):
            problems.append(f"line {node.lineno}: reads the clock ({node.value.id}.{node.attr})")
    return problems


def test_the_rule_engine_imports_no_orm_no_http_and_reads_no_clock() -> None:
    assert rules_problems(RULES) == []


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("from django.db import models", "imports django.db"),
        ("from django.db.models import Q", "imports django.db.models"),
        ("from django.utils import timezone", "imports django.utils.timezone"),
        ("import requests", "imports requests"),
        ("from urllib3 import PoolManager", "imports urllib3"),
        ("import http.client", "imports http.client"),
        ("from compensation.models import AccountDecision", "imports compensation.models"),
        ("import time", "imports time"),
        ("x = datetime.now()", "reads the clock (datetime.now)"),
        ("x = date.today()", "reads the clock (date.today)"),
    ],
)
def test_the_rules_check_would_catch(tmp_path: Path, line: str, problem: str) -> None:
    probe = tmp_path / "rules.py"
    probe.write_text(RULES.read_text(encoding="utf-8") + "\n" + line + "\n", encoding="utf-8")
    assert [p.split(": ", 1)[1] for p in rules_problems(probe)] == [problem]


def test_importing_the_rule_engine_loads_no_orm_and_no_http_client() -> None:
    """Transitively too: what rules.py imports must not pull the ORM or an HTTP client in."""
    code = (
        "import sys; import compensation.rules; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('requests', 'urllib3', 'httpx') or m.startswith(('django.db', 'http.client'))); "
        "print(','.join(bad))"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed snippet
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_the_one_model_reference_from_below_to_compensation_is_the_replacement_batch() -> None:
    """Lower apps may point at compensation's tables only where docs/architecture.md says why:
    `inventory.Account.replacement_batch`."""
    references = sorted(
        (model._meta.label, field.name)
        for app in FORBIDDEN
        for model in apps.get_app_config(app).get_models()
        for field in model._meta.get_fields()
        if field.is_relation
        and field.concrete
        and isinstance(field.related_model, type)
        and issubclass(field.related_model, Model)
        and field.related_model._meta.app_label == "compensation"
    )
    assert references == [("inventory.Account", "replacement_batch")]


def test_event_kinds_are_not_declared_in_the_database() -> None:
    """A new audit event kind needs no migration (each app declares its kinds in events.py)."""
    event = apps.get_model("inventory", "Event")
    assert event._meta.get_field("kind").choices is None
    assert event._meta.db_table == "orders_event"


@pytest.mark.django_db
def test_models_and_migrations_agree() -> None:
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
