"""Code blocks of the docs, run by the tests exactly as an integrator copies them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent.parent / "docs"


def snippet(name: str, *, doc: str = "storefront.md") -> str:
    """The fenced block that follows `<!-- snippet: NAME -->` in docs/DOC."""
    text = (DOCS / doc).read_text(encoding="utf-8")
    match = re.search(
        rf"<!-- snippet: {re.escape(name)} -->\n```[a-z]*\n(.*?)\n```", text, flags=re.DOTALL
    )
    assert match is not None, f"no snippet {name!r} in docs/{doc}"
    return match.group(1) + "\n"


def python_snippet(name: str, *, doc: str = "storefront.md") -> dict[str, Any]:
    """Execute a Python snippet of the docs; returns its namespace (its functions)."""
    namespace: dict[str, Any] = {"__name__": f"docs_{name}"}
    exec(compile(snippet(name, doc=doc), f"docs/{doc}:{name}", "exec"), namespace)  # noqa: S102
    return namespace
