"""The two YAML loaders agree (issue 18): the safe C loader that renders history and the
round-trip loader that validates (and names lines) read every file alike, and the fast path is
bounded exactly as the exact one (size, depth, alias expansion, finite numbers)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from reconciler.config import yamlfile
from reconciler.config.yamlfile import parse, plain
from reconciler.errors import ConfigError
from reconciler.limits import MAX_YAML
from tests.corpus.test_corpus import DEEP_YAML_BUNDLE, DEEP_YAML_INVENTORY
from tests.support.longhistory import overlay_text, spec_text

ROOT = Path(__file__).parents[2]
_BLOCK = re.compile(r"```ya?ml\n(.*?)```", re.S)


def _texts() -> list[tuple[str, str]]:
    """Every YAML file of the corpus and the examples, and every ```yaml block of the docs."""
    found: list[tuple[str, str]] = []
    folders = ["tests/corpus", "bundles", "targets", "examples", "deploy", ".github"]
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in (".yaml", ".yml"):
                found.append((str(path.relative_to(ROOT)), path.read_text()))
    found.append(("action.yml", (ROOT / "action.yml").read_text()))
    for page in sorted((ROOT / "docs").rglob("*.md")):
        for n, block in enumerate(_BLOCK.findall(page.read_text()), start=1):
            found.append((f"{page.relative_to(ROOT)} block {n}", block))
    found += [("long history bundle.yaml", spec_text(120)), ("overlay", overlay_text("eu", 7))]
    # Where libyaml alone would read otherwise (YAML 1.1's yes), or refuse what ruamel reads.
    found += [
        ("a %YAML 1.1 directive", "%YAML 1.1\n---\na: yes\n"),
        ("a url", "a: {u: http://x}\n"),
    ]
    return found


TEXTS = _texts()


def test_the_c_loader_is_installed() -> None:
    assert yamlfile.fast(), "ruamel.yaml.clib is a dependency: history renders need it"


@pytest.mark.parametrize(("name", "text"), TEXTS, ids=[name for name, _ in TEXTS])
def test_both_loaders_read_the_same_values(name: str, text: str) -> None:
    try:
        exact = plain(parse(text, name))
    except ConfigError as exc:
        with pytest.raises(ConfigError) as fast:
            yamlfile.values(text, name)
        assert str(fast.value) == str(exc)  # refused alike, at the same line
        return
    assert yamlfile.values(text, name) == exact
    if "%YAML" in text:
        return  # read by the round trip alone: libyaml's safe loader keeps to YAML 1.2
    try:
        c_only = YAML(typ="safe").load(text)
    except YAMLError:
        return  # libyaml refuses a little more (``{url: http://x}``): the exact loader reads it
    assert plain(c_only) == exact


def test_the_examples_are_read_by_the_c_loader_itself() -> None:
    """Agreement above is not only the fallback answering: libyaml reads the examples."""
    read = [name for name, text in TEXTS if _c_reads(text)]
    assert len(read) >= len(TEXTS) * 3 // 4, read


def _c_reads(text: str) -> bool:
    try:
        YAML(typ="safe").load(text)
    except YAMLError:
        return False
    return True


HOSTILE = [
    ("flow nested 3,000 deep", DEEP_YAML_BUNDLE, "YAML nested deeper than 64 levels"),
    ("block nested 3,000 deep", DEEP_YAML_INVENTORY, "YAML nested deeper than 64 levels"),
    # libyaml's composer recurses in C: this deep, unchecked, it overflows the C stack.
    ("flow nested 200,000 deep", "a: " + "[" * 200_000 + "]" * 200_000, "deeper than 64"),
    ("larger than 1 MiB", "a: 1\n# " + "x" * MAX_YAML, "file is larger than 1 MiB"),
    ("NaN", "a: .nan\n", "is not a number JSON can hold"),
]
for corpus in sorted((ROOT / "tests/corpus").glob("alias-bomb.*.yaml")):
    HOSTILE.append((corpus.name, corpus.read_text(), "YAML aliases expand to more than"))


@pytest.mark.parametrize(("name", "text", "needle"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_the_fast_path_keeps_every_bound(name: str, text: str, needle: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ConfigError) as fast:
        yamlfile.values(text, name)
    assert needle in str(fast.value)
    assert time.perf_counter() - started < 5.0
    with pytest.raises(ConfigError) as exact:
        parse(text, name)
    assert str(fast.value) == str(exact.value)
