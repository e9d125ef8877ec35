"""README's dependency section names every runtime dependency, and only those (issue 20: the
list is shorter, and each one says why it is there)."""

from __future__ import annotations

import re
import tomllib

from .markdown import ROOT


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {re.split(r"[\[<>=!;\s]", spec, maxsplit=1)[0] for spec in project["dependencies"]}


def _explained() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Dependencies\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([^|]+?) \| (.+?) \|$", section, re.M)
    names: set[str] = set()
    for package, why in rows:
        if package == "package" or set(package) <= {"-", " "}:
            continue
        assert why.strip(), package
        names |= {re.split(r"\[", n)[0] for n in re.findall(r"[\w.\-\[\]]+", package)} - {"+"}
    return names


def test_every_dependency_says_why_it_is_there() -> None:
    assert _declared() == _explained()


def test_the_dropped_libraries_stay_dropped() -> None:
    assert not _declared() & {"requests", "urllib3", "aiohttp-retry", "gitpython"}
