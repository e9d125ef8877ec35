"""Every YAML, JSON and shell sample of the README and the docs pages is checked (issue 26).

The conventions a sample follows (a sample that breaks them fails here, saying which):

YAML (```yaml): the first comment line that is not a ``yaml-language-server`` line names the file.
- ``# bundles/<b>/bundle.yaml`` or ``# targets/<env>.yaml``: a whole file. It must pass the
  JSON Schema (check-jsonschema) and ``reconciler validate`` in a temp config repo (a git copy of
  this repository's example, the sample written in place of that file).
- ``# bundles/<b>/overlays/<target>.yaml``: an overlay. It must pass the bundle's schema with no
  key required, and ``validate`` with it in place.
- ``# <one of those files> (fragment)``: a piece of such a file. It must pass that file's schema
  with no key required (so an unknown key or a wrong type still fails).
- ``# <one of those files> (fragment, rejected)``: a mistake shown on purpose. The schema (with
  no key required) must refuse it.
- ``# .github/workflows/<name>.yml``: a GitHub workflow, checked against GitHub's workflow schema
  (check-jsonschema's vendored copy, offline).
- any other ``# <file>`` (e.g. ``# prometheus.yml``): someone else's format; it must parse as YAML.

JSON (```json): it must parse.

Shell (```sh): one command a line (``\\`` continues it, ``#`` starts a comment; of a pipeline
only the first command counts).
- ``reconciler ...``: parsed by the real command line (command names, options, choices and
  required options, as ``--help`` documents them). The commands that need nothing but the config
  repo (:data:`OFFLINE`) also run, against the temp config repo, and must exit 0. The others need
  a fleet, a state store, a daemon or a GitHub runner: parsing is what can be checked offline.
- ``check-jsonschema ...``: runs in this repository's root and must exit 0.
- anything else (``make``, ``git``, ``echo``, ``export``): not run (it installs, needs keys, or
  changes the machine); :data:`NOT_RUN` lists the programs allowed, so a new kind of line is a
  decision, not an accident.

Text blocks (```text and unmarked ones) are output, not checked here.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from ruamel.yaml import YAML

from reconciler.cli import main
from reconciler.model.schemas import json_schema
from tests.docs.checks import BIN, check_jsonschema
from tests.docs.conftest import SECRETS
from tests.docs.markdown import ROOT, Block, blocks, pages
from tests.support.cli import reconciler
from tests.support.configrepo import ConfigRepo

#: The subcommands a sample runs for real: they need only the config repo.
OFFLINE = {"validate", "render", "schema", "plan"}
#: Programs whose sample lines are not run (see the module's docstring).
NOT_RUN = {"make", "git", "echo", "export"}

_FILE = re.compile(r"^# (\S+)(?: \(([^)]*)\))?")
_BUNDLE = re.compile(r"^bundles/[\w.-]+/bundle\.yaml$")
_OVERLAY = re.compile(r"^bundles/[\w.-]+/overlays/[\w.-]+\.yaml$")
_TARGETS = re.compile(r"^targets/[\w.-]+\.yaml$")


def all_blocks(*langs: str) -> list[Block]:
    return [b for page in pages() for b in blocks(page) if b.lang in langs]


def named(block: Block) -> tuple[str, str]:
    """The file a YAML sample names, and its note (``fragment``, ``fragment, rejected``, ``""``)."""
    for line in block.text.splitlines():
        if line.startswith("# yaml-language-server:"):
            continue
        match = _FILE.match(line)
        assert match, f"{block.where}: a yaml sample's first comment line names its file"
        return match.group(1), match.group(2) or ""
    raise AssertionError(f"{block.where}: an empty yaml sample")


def kind_of(file: str) -> str | None:
    if _BUNDLE.match(file) or _OVERLAY.match(file):
        return "bundle"
    return "targets" if _TARGETS.match(file) else None


def partial(schema: Any) -> Any:
    """``schema`` with no key required anywhere: what a fragment is checked against."""
    if isinstance(schema, dict):
        return {k: partial(v) for k, v in schema.items() if k != "required"}
    if isinstance(schema, list):
        return [partial(v) for v in schema]
    return schema


def test_every_yaml_sample_passes_its_schema(tmp_path: Path) -> None:
    samples = all_blocks("yaml", "yml")
    assert len(samples) >= 10
    groups: dict[tuple[str, str], list[tuple[Block, Path]]] = {}
    for index, block in enumerate(samples):
        file, note = named(block)
        kind = kind_of(file)
        if file.startswith(".github/workflows/"):
            group = ("workflow", "")
        elif kind is None:
            YAML(typ="safe").load(block.text)  # someone else's format: it parses
            continue
        elif "fragment" in note or _OVERLAY.match(file):
            group = (kind, "rejected" if "rejected" in note else "partial")
        else:
            group = (kind, "whole")
        path = tmp_path / f"sample-{index}.yaml"
        path.write_text(block.text)
        groups.setdefault(group, []).append((block, path))
    for (kind, how), members in groups.items():
        if kind == "workflow":
            schema = ["--builtin-schema", "vendor.github-workflows"]
        else:
            doc = json_schema(kind) if how == "whole" else partial(json_schema(kind))
            schema_path = tmp_path / f"{kind}-{how}.schema.json"
            schema_path.write_text(json.dumps(doc))
            schema = ["--schemafile", str(schema_path)]
        errors = check_jsonschema(schema, [path for _, path in members])
        for block, path in members:
            if how == "rejected":
                assert errors[str(path)], f"{block.where}: a rejected sample the schema accepts"
            else:
                assert errors[str(path)] == [], f"{block.where}: {errors[str(path)]}"
    assert ("bundle", "whole") in groups and ("targets", "whole") in groups
    assert ("bundle", "rejected") in groups


def test_every_whole_file_sample_passes_validate(config_repo: ConfigRepo) -> None:
    # Rounds of samples that name different files, each round one `validate`.
    rounds: list[dict[str, Block]] = []
    for block in all_blocks("yaml", "yml"):
        file, note = named(block)
        if kind_of(file) is None or "fragment" in note:
            continue
        free = next((r for r in rounds if file not in r), None)
        if free is None:
            rounds.append(free := {})
        free[file] = block
    assert sum(len(r) for r in rounds) >= 5
    originals = {f: p.read_bytes() for f, p in _files(config_repo)}
    for round_ in rounds:
        for file, block in round_.items():
            config_repo.write(file, block.text)
        run = reconciler("--repo", config_repo.root, "validate", env=dict.fromkeys(SECRETS, "x"))
        where = ", ".join(f"{b.where} ({f})" for f, b in round_.items())
        assert run.code == 0, f"validate refuses a sample of {where}:\n{run.err}"
        for file in round_:
            if file in originals:
                config_repo.write(file, originals[file])
            else:
                (config_repo.root / file).unlink()


def _files(repo: ConfigRepo) -> Iterator[tuple[str, Path]]:
    for path in repo.root.rglob("*.yaml"):
        yield str(path.relative_to(repo.root)), path


def test_every_json_sample_parses() -> None:
    for block in all_blocks("json"):
        json.loads(block.text)


def commands(block: Block) -> Iterator[list[str]]:
    """The commands of a shell sample: continuations joined, comments and pipes cut."""
    text = block.text.replace("\\\n", " ")
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        cut = next((i for i, w in enumerate(words) if w in ("|", "&&", ";", ">>", ">")), None)
        yield words[:cut]


def parse(args: list[str]) -> click.Command:
    """Parse ``reconciler ARGS`` as the real command line does, down to the leaf command (types,
    choices, required options), without running it; a bad sample raises click's UsageError."""
    ctx = main.make_context("reconciler", list(args))
    command: click.Command = main
    while isinstance(command, click.Group):
        rest = ctx.args
        consumed = len(args) - len(rest)
        name = args[consumed - 1]
        found = command.get_command(ctx, name)
        assert found is not None, f"no command {name!r}"
        command, args = found, rest
        ctx = command.make_context(name, list(rest), parent=ctx)
    return command


def shell_samples() -> list[tuple[Block, list[str]]]:
    return [(b, words) for b in all_blocks("sh", "bash", "shell") for words in commands(b)]


@pytest.mark.parametrize(
    ("block", "words"),
    [pytest.param(b, w, id=f"{b.where}:{' '.join(w[:3])}") for b, w in shell_samples()],
)
def test_every_shell_sample(block: Block, words: list[str], config_repo: ConfigRepo) -> None:
    program, args = words[0], words[1:]
    if program == "reconciler":
        try:
            parse(args)
        except click.UsageError as exc:
            pytest.fail(f"{block.where}: `{shlex.join(words)}` is not a valid command: {exc}")
        sub = next((a for a in args if not a.startswith("-")), None)
        if sub in OFFLINE and "--repo" not in args and ("--base" in args or sub != "plan"):
            run = reconciler(
                "--repo", config_repo.root, *args, env=dict.fromkeys(SECRETS, "x"), timeout=120
            )
            assert run.code == 0, f"{block.where}: `{shlex.join(words)}`:\n{run.err}"
    elif program == "check-jsonschema":
        env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
        run = subprocess.run(
            shlex.join(words).replace("'", ""),  # let the shell expand the sample's globs
            shell=True,
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert run.returncode == 0, f"{block.where}: {run.stdout}{run.stderr}"
    else:
        assert program in NOT_RUN, (
            f"{block.where}: `{program}` is neither run nor listed in NOT_RUN (see the docstring)"
        )


def test_the_shell_samples_run_what_they_can() -> None:
    # The convention is not a loophole: the offline commands are really among the samples.
    ran = {w[1] for _, w in shell_samples() if w[0] == "reconciler" and len(w) > 1}
    assert {"validate", "render", "schema", "plan"} <= ran
    assert any(w[0] == "check-jsonschema" for _, w in shell_samples())


def test_every_finding_code_has_its_example() -> None:
    from reconciler.model.codes import FindingCode

    page = (ROOT / "docs" / "audit.md").read_text()
    for code in FindingCode:
        section = re.search(rf"^### {code.value}\n(.*?)(?=^### |\Z)", page, re.M | re.S)
        assert section, f"docs/audit.md has no section for the finding code {code.value}"
        assert "```text\n" in section.group(1), f"{code.value}: no example"
        example = section.group(1).split("```text\n", 1)[1]
        assert code.value in example.split("```", 1)[0], f"{code.value}: its example lacks it"


def test_a_broken_sample_is_caught(tmp_path: Path) -> None:
    # The checks themselves: an unknown option, a bad choice, and a misspelt key are refused.
    with pytest.raises(click.UsageError):
        parse(["audit", "--env", "production", "--formatt", "json"])
    with pytest.raises(click.UsageError):
        parse(["audit", "--env", "production", "--format", "yaml"])
    with pytest.raises(click.UsageError):
        parse(["rollout", "pause"])  # --env is required
    parse(["rollout", "pause", "--env", "production", "--reason", "why"])
    sample = tmp_path / "s.yaml"
    sample.write_text("rollout: {progress_deadlin: 15m}\n")
    schema = tmp_path / "p.json"
    schema.write_text(json.dumps(partial(json_schema("targets"))))
    assert check_jsonschema(["--schemafile", str(schema)], [sample])[str(sample)]
    assert copy.deepcopy(partial({"required": ["a"], "x": [{"required": ["b"]}]})) == {"x": [{}]}
