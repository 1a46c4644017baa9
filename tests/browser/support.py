"""What the customer's browser tests share besides fixtures: the two viewports and the
screenshots for the docs at both widths (saved when SCREENSHOTS_DIR is set)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DESKTOP = {"width": 1100, "height": 900}
PHONE = {"width": 420, "height": 860}


def shoot(page: Any, name: str) -> None:
    """Save the page at desktop and phone width when SCREENSHOTS_DIR is set."""
    directory = os.environ.get("SCREENSHOTS_DIR")
    if not directory:
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    for suffix, size in (("", DESKTOP), ("-phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(Path(directory) / f"{name}{suffix}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
