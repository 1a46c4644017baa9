"""The repository is self-contained: no tracked file points at the product specification outside
it, and every relative link in the Markdown files leads to a file inside the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Built from pieces so this file does not match itself.
OUTSIDE = re.compile(re.escape("../" + "shared") + "|" + re.escape("shared" + "/spec"))
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _tracked_text_files() -> list[tuple[Path, str]]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    files = []
    for name in listed.decode().split("\0"):
        path = ROOT / name
        if not name or not path.is_file():
            continue
        try:
            files.append((path, path.read_text(encoding="utf-8")))
        except UnicodeDecodeError:
            continue  # images and other binary files
    return files


def test_no_tracked_file_links_to_the_specification_outside_the_repository() -> None:
    files = _tracked_text_files()
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path, text in files
        for number, line in enumerate(text.splitlines(), start=1)
        if OUTSIDE.search(line)
    ]
    assert len(files) > 50  # the listing really covered the repository
    assert offenders == []


def test_every_relative_markdown_link_stays_inside_the_repository_and_exists() -> None:
    broken = []
    markdown = [(p, t) for p, t in _tracked_text_files() if p.suffix == ".md"]
    for path, text in markdown:
        for target in MARKDOWN_LINK.findall(text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # absolute URLs (http, mailto) and anchors in the same page
            resolved = (path.parent / target.split("#", 1)[0]).resolve()
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                broken.append(f"{path.relative_to(ROOT)}: {target}")
    assert any(p.name == "README.md" for p, _ in markdown)
    assert broken == []


def test_the_readme_links_every_document_in_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("policy.md", "formats.md", "api.md", "status-service.md", "deploy.md"):
        assert f"(docs/{name})" in readme, name
