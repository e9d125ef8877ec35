"""The hostile-input corpus (issue 11): every case through the real ``validate`` and ``audit``.

Small inputs are files beside this module; large ones (huge files, 100,000-deep JSON,
3,000-deep YAML, a render past the fetch cap) and symbolic links are made at test time. For
every case, both commands must: exit 1; print exactly one error line naming the offending file
(``validate`` then its count line); never a traceback or an "internal error"; finish within
5 s; and peak under 300 MB of resident memory.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.limits import MAX_DOCUMENT, MAX_FILE, MAX_YAML
from tests.support.cli import measured
from tests.support.configrepo import BUNDLE_YAML, ConfigRepo, inventory, tool

CORPUS = Path(__file__).parent
BUNDLE = "bundles/support-agent"
INVENTORY = "targets/production.yaml"
SECONDS = 5.0
PEAK_RSS = 300 * 1024 * 1024


@dataclass(frozen=True)
class Case:
    """One hostile input: how to place it, the file to blame (and line), a word of the reason."""

    name: str
    place: Callable[[ConfigRepo], None]
    file: str
    needle: str
    line: int | None = None


def _copy(corpus_file: str, to: str) -> Callable[[ConfigRepo], None]:
    def place(repo: ConfigRepo) -> None:
        repo.write(to, (CORPUS / corpus_file).read_bytes())

    return place


def _bundle_yaml(extra: str) -> str:
    return BUNDLE_YAML.format(name="support-agent") + extra


def _with_output_schema(repo: ConfigRepo) -> None:
    repo.write(
        f"{BUNDLE}/bundle.yaml",
        _bundle_yaml("output_schemas:\n  report: {schema: schemas/r.json}\n"),
    )
    repo.write(f"{BUNDLE}/schemas/r.json", (CORPUS / "infinity.schema.json").read_bytes())


def _huge_bundle_yaml(repo: ConfigRepo) -> None:
    text = _bundle_yaml("")
    repo.write(f"{BUNDLE}/bundle.yaml", text + "# " + "x" * (MAX_YAML - len(text)) + "\n")


def _huge_inventory(repo: ConfigRepo) -> None:
    # 50 MB: the inventory that never finished.
    text = inventory([{"name": "a", "source": {"type": "file", "path": "fleet/a/{bundle}.json"}}])
    with (repo.root / INVENTORY).open("w") as handle:
        handle.write(text)
        for _ in range(50):
            handle.write("# " + "x" * (1024 * 1024 - 3) + "\n")


def _huge_prompt(repo: ConfigRepo) -> None:
    repo.write(f"{BUNDLE}/prompts/system.md", "You help customers.\n" * (MAX_FILE // 20 + 1))


def _huge_tool(repo: ConfigRepo) -> None:
    repo.write(f"{BUNDLE}/tools/write_report.json", {**tool(), "description": "x" * MAX_FILE})


DEEP_JSON = (
    '{\n  "name": "write_report",\n  "parameters": ' + "[" * 100_000 + "]" * 100_000 + "\n}\n"
)


def _deep_json(repo: ConfigRepo) -> None:
    repo.write(f"{BUNDLE}/tools/write_report.json", DEEP_JSON)


DEEP_YAML_BUNDLE = _bundle_yaml("  deep: {x: " + "[" * 3_000 + "]" * 3_000 + "}\n")
# Block style: "- - - ..." nests one sequence in the next, 3,000 deep on one line.
DEEP_YAML_INVENTORY = (
    "environment: production\nbundles: [support-agent]\ntargets:\n"
    '  - name: a\n    source: {type: file, path: "fleet/a/{bundle}.json"}\n'
    "extra:\n  " + "- " * 3_000 + "1\n"
)


def _deep_yaml_bundle(repo: ConfigRepo) -> None:
    repo.write(f"{BUNDLE}/bundle.yaml", DEEP_YAML_BUNDLE)


def _deep_yaml_inventory(repo: ConfigRepo) -> None:
    repo.write(INVENTORY, DEEP_YAML_INVENTORY)


def _huge_render(repo: ConfigRepo) -> None:
    # Five prompts, each under the 4 MiB file cap, render past the 16 MiB fetch cap together.
    names = [f"p{i}" for i in range(5)]
    prompts = "".join(f"  {n}: {{file: prompts/{n}.md}}\n" for n in names)
    repo.write(
        f"{BUNDLE}/bundle.yaml", _bundle_yaml("").replace("prompts:\n", "prompts:\n" + prompts)
    )
    for n in names:
        repo.write(f"{BUNDLE}/prompts/{n}.md", "Be brief. " * (MAX_DOCUMENT // 50))


def _symlink(target: str, *, folder: bool = False) -> Callable[[ConfigRepo], None]:
    def place(repo: ConfigRepo) -> None:
        prompts = repo.root / BUNDLE / "prompts"
        if folder:
            (repo.root / BUNDLE / "texts").mkdir()
            os.replace(prompts / "system.md", repo.root / BUNDLE / "texts/system.md")
            prompts.rmdir()
            prompts.symlink_to("texts", target_is_directory=True)
        else:
            (prompts / "system.md").unlink()
            (prompts / "system.md").symlink_to(target)
            (prompts / "other.md").write_text("Another prompt.\n")

    return place


def _line(corpus_file: str, needle: str) -> int:
    """The 1-based line of ``needle`` in a corpus file (so the expected line cannot go stale)."""
    return _line_in((CORPUS / corpus_file).read_text(), needle)


def _line_in(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if needle in line)


CASES = [
    Case(
        "alias bomb in bundle.yaml",
        _copy("alias-bomb.bundle.yaml", f"{BUNDLE}/bundle.yaml"),
        f"{BUNDLE}/bundle.yaml",
        "YAML aliases expand to more than",
        _line("alias-bomb.bundle.yaml", "l5:"),
    ),
    Case(
        "alias bomb in the inventory",
        _copy("alias-bomb.inventory.yaml", INVENTORY),
        INVENTORY,
        "YAML aliases expand to more than",
        _line("alias-bomb.inventory.yaml", "x5:"),
    ),
    Case(
        "alias bomb in an overlay",
        _copy("alias-bomb.overlay.yaml", f"{BUNDLE}/overlays/a.yaml"),
        f"{BUNDLE}/overlays/a.yaml",
        "YAML aliases expand to more than",
        _line("alias-bomb.overlay.yaml", "l5:"),
    ),
    Case(
        "NaN in a tool schema",
        _copy("nan.tool.json", f"{BUNDLE}/tools/write_report.json"),
        f"{BUNDLE}/tools/write_report.json",
        "NaN is not JSON",
        _line("nan.tool.json", "NaN"),
    ),
    Case(
        "Infinity in an output schema",
        _with_output_schema,
        f"{BUNDLE}/schemas/r.json",
        "Infinity is not JSON",
        _line("infinity.schema.json", "Infinity"),
    ),
    Case(
        "a number that overflows to infinity",
        _copy("overflow.tool.json", f"{BUNDLE}/tools/write_report.json"),
        f"{BUNDLE}/tools/write_report.json",
        "1e999 overflows",
        _line("overflow.tool.json", "1e999"),
    ),
    Case(
        "JSON nested 100,000 deep",
        _deep_json,
        f"{BUNDLE}/tools/write_report.json",
        "JSON nested deeper than 64 levels",
        _line_in(DEEP_JSON, "[["),
    ),
    Case(
        "YAML nested 3,000 deep in bundle.yaml",
        _deep_yaml_bundle,
        f"{BUNDLE}/bundle.yaml",
        "YAML nested deeper than 64 levels",
        _line_in(DEEP_YAML_BUNDLE, "[["),
    ),
    Case(
        "YAML nested 3,000 deep in the inventory",
        _deep_yaml_inventory,
        INVENTORY,
        "YAML nested deeper than 64 levels",
        _line_in(DEEP_YAML_INVENTORY, "- - "),
    ),
    Case(
        "bundle.yaml over 1 MiB",
        _huge_bundle_yaml,
        f"{BUNDLE}/bundle.yaml",
        "file is larger than 1 MiB",
    ),
    Case("a 50 MB inventory", _huge_inventory, INVENTORY, "file is larger than 1 MiB"),
    Case(
        "a prompt over 4 MiB",
        _huge_prompt,
        f"{BUNDLE}/prompts/system.md",
        "file is larger than 4 MiB",
    ),
    Case(
        "a tool schema over 4 MiB",
        _huge_tool,
        f"{BUNDLE}/tools/write_report.json",
        "file is larger than 4 MiB",
    ),
    Case(
        "a render over the 16 MiB fetch cap",
        _huge_render,
        f"{BUNDLE}/bundle.yaml",
        "more than the 16 MiB a target can hold; refused, nothing was written",
    ),
    Case(
        "a file target escaping the repo (relative)",
        _copy("escape-relative.inventory.yaml", INVENTORY),
        INVENTORY,
        "escapes the repo root",
        _line("escape-relative.inventory.yaml", "etc/passwd"),
    ),
    Case(
        "a file target escaping the repo (absolute)",
        _copy("escape-absolute.inventory.yaml", INVENTORY),
        INVENTORY,
        "must be relative to the repo root",
        _line("escape-absolute.inventory.yaml", "etc/passwd"),
    ),
    Case(
        "a prompt file escaping the bundle from an overlay",
        _copy("escape.overlay.yaml", f"{BUNDLE}/overlays/a.yaml"),
        f"{BUNDLE}/overlays/a.yaml",
        "is outside the bundle folder",
        _line("escape.overlay.yaml", "etc/passwd"),
    ),
    Case(
        "a prompt symlinked out of the repo",
        _symlink("/etc/passwd"),
        f"{BUNDLE}/prompts/system.md",
        "symbolic links are not allowed in a bundle",
    ),
    Case(
        "a prompt symlinked inside the bundle",
        _symlink("other.md"),
        f"{BUNDLE}/prompts/system.md",
        "symbolic links are not allowed in a bundle",
    ),
    Case(
        "a symlinked prompts folder",
        _symlink("texts", folder=True),
        f"{BUNDLE}/prompts",
        "symbolic links are not allowed in a bundle",
    ),
    Case(
        "a target listed twice",
        _copy("duplicate-target.inventory.yaml", INVENTORY),
        INVENTORY,
        "target 'a' is listed twice",
        _line("duplicate-target.inventory.yaml", "fleet/a2/") - 1,
    ),
    Case(
        "timeout: 0s",
        _copy("timeout-zero.inventory.yaml", INVENTORY),
        INVENTORY,
        "a timeout must be between 100ms and 5m, not '0s'",
        _line("timeout-zero.inventory.yaml", "timeout"),
    ),
    Case(
        "timeout: 99999999999999999999d",
        _copy("timeout-absurd.inventory.yaml", INVENTORY),
        INVENTORY,
        "a timeout must be between 100ms and 5m",
        _line("timeout-absurd.inventory.yaml", "timeout"),
    ),
    Case(
        "max_invalid: 1 (read as 100%, it turned the output contract off)",
        _copy("max-invalid-one.inventory.yaml", INVENTORY),
        INVENTORY,
        "write a percentage like '1%', or a fraction below 1",
        _line("max-invalid-one.inventory.yaml", "max_invalid"),
    ),
    Case(
        "verify: names an allowed_signers file that does not exist",
        _copy("missing-signers.inventory.yaml", INVENTORY),
        INVENTORY,
        ".reconciler-signers-missing",
        _line("missing-signers.inventory.yaml", "allowed_signers"),
    ),
]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small valid config repo: one bundle, one file target, one commit."""
    repo = ConfigRepo(tmp_path_factory.mktemp("corpus") / "config")
    repo.bundle()
    repo.write(
        INVENTORY,
        inventory([{"name": "a", "source": {"type": "file", "path": "fleet/a/{bundle}.json"}}]),
    )
    repo.commit("valid")
    return repo.root


def test_the_base_repo_is_valid(base: Path) -> None:
    run = measured("--repo", base, "validate").run
    assert run.code == 0, run.err


@pytest.mark.parametrize("command", ["validate", "audit"])
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_input(base: Path, tmp_path: Path, case: Case, command: str) -> None:
    repo = _clone(base, tmp_path / "config")
    case.place(repo)
    if not case.file.startswith("targets/"):
        repo.commit(f"hostile: {case.name}")  # audit reads bundles from git at HEAD
    args = ["validate"] if command == "validate" else ["audit", "--env", "production"]
    done = measured("--repo", repo.root, *args, timeout=30)
    run = done.run
    assert run.code == 1, (run.out, run.err)
    assert "Traceback" not in run.err and "internal error" not in run.err, run.err
    lines = run.err.splitlines()
    if command == "validate":
        assert len(lines) == 2 and lines[1] == "1 error(s)", run.err
        error = lines[0]
    else:
        assert len(lines) == 1 and lines[0].startswith("error: "), run.err
        error = lines[0].removeprefix("error: ")
    where = f"{case.file}:{case.line}: " if case.line else f"{case.file}: "
    assert error.startswith(where), (where, error)
    assert case.needle in error, error
    assert done.seconds < SECONDS, f"{done.seconds:.1f} s"
    assert done.peak_rss < PEAK_RSS, f"{done.peak_rss / 2**20:.0f} MiB"


def _clone(base: Path, to: Path) -> ConfigRepo:
    """A fresh copy of the base repo (with its history) for one case."""
    subprocess.run(["git", "clone", "-q", str(base), str(to)], check=True)
    return ConfigRepo(to)


def test_corpus_files_are_small() -> None:
    # Large inputs are generated at test time, never committed.
    files = [p for p in CORPUS.iterdir() if p.suffix in (".yaml", ".json")]
    assert len(files) == 14
    assert all(p.stat().st_size < 2048 for p in files)
