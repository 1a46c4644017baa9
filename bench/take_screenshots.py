"""Screenshots for the docs: the customer pages (form and its errors, result pages, the order page
with each account's state and a claim) and the back office (admin home, review queue, a case,
the quality report).

Runs the browser tests that take them (the customer tests at desktop 1100 px and phone 420 px
width; tests/browser/test_backoffice_browser.py at 1,280 px) against a live server and saves
PNGs:

    python bench/take_screenshots.py            # -> docs/screenshots/
    SCREENSHOTS_DIR=/tmp/shots python bench/take_screenshots.py

Needs Chromium at /usr/bin/chromium (Debian: apt-get install chromium). Uses the test database
(SQLite in memory unless DATABASE_URL says otherwise), so it never touches real data.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    target = Path(os.environ.get("SCREENSHOTS_DIR", ROOT / "docs" / "screenshots")).resolve()
    target.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SCREENSHOTS_DIR": str(target)}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/browser/test_customer_browser.py::test_customer_journey_from_form_to_revealed_replacement",
        # The error summary, a claim from the order page, the result page after a person
        # decided and while cases wait for one, the order page with each account's state.
        "tests/browser/test_customer_truth_browser.py",
        "tests/browser/test_backoffice_browser.py",
    ]
    code = subprocess.call(command, cwd=ROOT, env=env)  # noqa: S603
    shots = sorted(target.glob("*.png"))
    for shot in shots:
        shown = shot.relative_to(ROOT) if shot.is_relative_to(ROOT) else shot
        print(f"{shown}  {shot.stat().st_size // 1024} KiB")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
