"""README.md and docs/*.md: every relative link resolves, every docs page is linked from the README, the
README stays a short entry point (< 150 lines), and the command -> code table names files that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest


def repo_root() -> Path:
    """The folder holding pyproject.toml above this file (wherever the tests folder puts this test)."""
    for folder in Path(__file__).resolve().parents:
        if (folder / "pyproject.toml").is_file() and (folder / "README.md").is_file():
            return folder
    raise AssertionError("no pyproject.toml with a README.md above " + __file__)


REPO = repo_root()
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
EXTERNAL = ("http://", "https://", "mailto:")


def links(page: Path) -> list[str]:
    """The link targets of a markdown page, code blocks left out."""
    return LINK.findall(FENCE.sub("", page.read_text(encoding="utf-8")))


def local_target(page: Path, target: str) -> Path | None:
    """Where a relative link of ``page`` points (its #anchor dropped); None for external or same-page links."""
    if target.startswith(EXTERNAL) or target.startswith("#"):
        return None
    return (page.parent / target.split("#", 1)[0]).resolve()


def test_docs_pages_exist():
    names = {p.name for p in DOCS}
    assert {"data.md", "detection.md", "segmentation.md", "anomaly.md", "code-map.md"} <= names


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_points_to_a_file_that_exists(page: Path):
    found = [t for t in links(page) if local_target(page, t) is not None]
    missing = [t for t in found if not local_target(page, t).exists()]
    assert not missing, f"{page.relative_to(REPO)}: links to missing files: {missing}"


def test_the_link_check_sees_a_broken_link(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text("[ok](page.md) [gone](nope.md#x) [web](https://example.org)\n```\n[code](x.md)\n```\n")
    targets = [t for t in links(page) if local_target(page, t) is not None]
    assert targets == ["page.md", "nope.md#x"]
    assert [t for t in targets if not local_target(page, t).exists()] == ["nope.md#x"]


def test_readme_is_short_and_links_every_docs_page():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) < 150, f"README.md has {len(lines)} lines; move detail into docs/"
    linked = {local_target(README, t) for t in links(README)}
    unlinked = [p.name for p in DOCS if p.resolve() not in linked]
    assert not unlinked, f"docs pages the README does not link: {unlinked}"


def test_readme_starts_with_the_two_setup_commands():
    """.ci/run installs and tests with the commands the README gives first; keep them first."""
    text = README.read_text(encoding="utf-8")
    block = FENCE.search(text).group(0).splitlines()[1:-1]
    assert block[0].endswith("&& wood demo")
    assert block[1].endswith("pip install --no-deps -r requirements-interop.txt && python -m pytest")


def test_no_stray_references():
    stray = ["DESIGN" + ".md", "../" + "shared", "shared" + "/data", "the " + "issue"]
    for page in [README, *DOCS]:
        text = page.read_text(encoding="utf-8")
        assert not [s for s in stray if s in text], page.relative_to(REPO)


CODE_PATH = re.compile(r"`((?:wood|prep|finetune|eval|deploy|report|datasets|scripts|bench)/[^`<>\s]*)`")


@pytest.mark.skipif(
    not (REPO / "wood" / "cli" / "commands").is_dir(), reason="docs/code-map.md names the layout after the move"
)
def test_code_map_names_files_that_exist():
    text = (REPO / "docs" / "code-map.md").read_text(encoding="utf-8")
    paths = CODE_PATH.findall(text)
    assert len(paths) > 30
    missing = [p for p in paths if not any(REPO.glob(p.rstrip("/")))]
    assert not missing, f"docs/code-map.md names missing files: {missing}"
