"""The documentation site: it builds with ``mkdocs build --strict`` (a broken link, a missing
page or a bad anchor fails), offline; the README stays a short front page; and every section
the README had before it became one (issue 26) is a heading of some page."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import click

from tests.docs.markdown import DOCS, ROOT, blocks, headings

#: Every section heading of the README before it became a front page (git show a238c87:README.md):
#: each moved into a page of the site, none away.
FORMER_README_SECTIONS = (
    "agent-reconciler",
    "Three ways to use it",
    "Use it in GitHub Actions",
    "As a daemon, one per environment",
    "Running more than one daemon",
    "Watching the watcher",
    "A rollout never goes quiet: what exactly is guaranteed",
    "On call",
    "The on-call page",
    "Configuration by example",
    "bundle.yaml",
    "targets/<environment>.yaml",
    "Gates for what a config diff cannot see",
    "Signed revisions",
    "What the audit says",
    "Commands",
    "Development",
)


def test_the_site_builds_strictly_offline(tmp_path: Path) -> None:
    site = tmp_path / "site"
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "NO_MKDOCS_2_WARNING": "1", "HOME": str(tmp_path)},
    )
    assert run.returncode == 0, run.stderr
    assert "WARNING" not in run.stderr, run.stderr
    # The CLI reference is generated from the click commands: every command has its section.
    from reconciler.cli import COMMANDS

    reference = html.unescape((site / "cli" / "index.html").read_text())
    assert "Sentinel" not in reference  # click's unset defaults, shown as --help shows them
    for command in walk(COMMANDS):
        assert f"{command[0]}\n" in reference or f"{command[0]} [OPTIONS]" in reference, command
        for option in command[1]:
            assert option in reference, (command[0], option)
    # Nothing is fetched from elsewhere when the site is read: no web fonts.
    assert "fonts.googleapis.com" not in (site / "index.html").read_text()
    assert (site / "schemas" / "bundle.schema.json").is_file()


def walk(
    commands: Iterable[click.Command], prog: str = "reconciler"
) -> Iterator[tuple[str, list[str]]]:
    """Each command's full name and its options, subcommands included."""
    for command in commands:
        name = f"{prog} {command.name}"
        yield name, [opt for param in command.params for opt in param.opts if opt.startswith("-")]
        if isinstance(command, click.Group):
            yield from walk(command.commands.values(), name)


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    # The strictness itself: a copy of the site with one link to a page that does not exist.
    docs = tmp_path / "docs"
    subprocess.run(["cp", "-r", str(DOCS), str(docs)], check=True)
    (tmp_path / "mkdocs.yml").write_text((ROOT / "mkdocs.yml").read_text())
    page = docs / "bundle.md"
    page.write_text(page.read_text() + "\nSee [the missing page](no-such-page.md).\n")
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "s")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "NO_MKDOCS_2_WARNING": "1", "HOME": str(tmp_path)},
    )
    assert run.returncode != 0
    assert "no-such-page.md" in run.stderr


def test_the_readme_is_a_front_page() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    # Its first section shows exactly the two commands.
    first = blocks(ROOT / "README.md")[0]
    commands = [line.split("#")[0].strip() for line in first.text.splitlines()]
    assert commands == ["make demo", "make test"]
    assert readme.index("make demo") < readme.index("\n## ")
    # The three uses, each with one example, and links into the site.
    for use in ("GitHub Actions", "daemon", "On call"):
        assert re.search(rf"^### .*{use}", readme, re.M | re.I), use
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)", readme))
    assert {p.name for p in DOCS.glob("*.md")} - {"index.md"} <= linked


def test_every_former_readme_section_is_a_heading_of_some_page() -> None:
    found = {h for page in DOCS.rglob("*.md") for h in headings(page)}
    missing = [h for h in FORMER_README_SECTIONS if h not in found]
    assert not missing, f"README sections no docs page has as a heading: {missing}"


def test_every_page_is_in_the_navigation() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in DOCS.rglob("*.md"):
        assert str(page.relative_to(DOCS)) in nav, page
