"""The JSON Schemas of bundle.yaml and targets/<env>.yaml (issue 26): the committed files are what
the models generate, ``reconciler schema`` prints them, the examples pass them, an editor's
YAML language server (here check-jsonschema, with the same schema) flags an unknown key, and the
schemas refuse what ``validate`` refuses on the hostile corpus's schema cases."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from reconciler.model.schemas import KINDS, schema_text
from tests.docs.checks import check_jsonschema
from tests.docs.conftest import SECRETS
from tests.docs.markdown import DOCS, ROOT
from tests.support.cli import reconciler
from tests.support.configrepo import ConfigRepo

SCHEMAS = DOCS / "schemas"
CASES = ROOT / "tests" / "corpus" / "schema"
EXAMPLES = {
    "bundle": sorted((ROOT / "bundles").glob("*/bundle.yaml")),
    "targets": sorted((ROOT / "targets").glob("*.yaml")),
}


def schema_file(kind: str) -> Path:
    return SCHEMAS / f"{kind}.schema.json"


def check(kind: str, *files: Path) -> dict[str, list[str]]:
    return check_jsonschema(["--schemafile", str(schema_file(kind))], list(files))


@pytest.mark.parametrize("kind", KINDS)
def test_the_committed_schema_is_what_the_models_generate(kind: str) -> None:
    committed = schema_file(kind).read_text()
    assert committed == schema_text(kind), (
        f"docs/schemas/{kind}.schema.json is not what the models generate: run `make schemas`"
    )


def test_the_schema_command_prints_them() -> None:
    for kind in KINDS:
        run = reconciler("schema", kind)
        assert run.code == 0, run.err
        assert run.out == schema_file(kind).read_text()
        assert json.loads(run.out)["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    wrong = reconciler("schema", "bundles")
    assert wrong.code == 1
    assert "'bundles' is not one of 'bundle', 'targets'" in wrong.err
    assert "Traceback" not in wrong.err


@pytest.mark.parametrize("kind", KINDS)
def test_every_example_passes_and_names_its_schema(kind: str) -> None:
    examples = EXAMPLES[kind]
    assert examples
    assert check(kind, *examples) == {str(f): [] for f in examples}
    for example in examples:
        first = example.read_text().splitlines()[0]
        named = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
        assert named, f"{example}: the first line names no schema"
        assert (example.parent / named.group(1)).resolve() == schema_file(kind)


def test_an_unknown_key_is_flagged_as_an_editor_would(tmp_path: Path) -> None:
    # What VS Code's YAML extension (yaml-language-server) does with the schema the file names:
    # the same schema, checked by check-jsonschema, names the misspelt key and where it is.
    bundle = tmp_path / "bundle.yaml"
    bundle.write_text(
        "# yaml-language-server: $schema=https://raw.githubusercontent.com/your-org/"
        "agent-reconciler/main/docs/schemas/bundle.schema.json\n"
        + (CASES / "unknown-key.bundle.yaml").read_text()
    )
    errors = check("bundle", bundle)[str(bundle)]
    unexpected = "Additional properties are not allowed ('temprature' was unexpected)"
    assert errors == [f"$.model: {unexpected}"]
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text(bundle.read_text().replace("temprature: 0.2", "params: {temperature: 0.2}"))
    assert check("bundle", fixed) == {str(fixed): []}


def _case_kind(case: Path) -> str:
    return "bundle" if case.name.endswith(".bundle.yaml") else "targets"


def test_the_schemas_refuse_what_validate_refuses(config_repo: ConfigRepo) -> None:
    cases = sorted(CASES.glob("*.yaml"))
    assert len(cases) >= 8
    by_kind = {k: [c for c in cases if _case_kind(c) == k] for k in KINDS}
    refused = check("bundle", *by_kind["bundle"]) | check("targets", *by_kind["targets"])
    # validate refuses each too, naming its file: every case in place at once, one validate
    # (each in a file of its own name: an environment or a bundle named after the case).
    placed = {}
    for case in cases:
        name = case.name.split(".")[0]
        text = case.read_text()
        if _case_kind(case) == "bundle":
            shutil.copytree(
                config_repo.root / "bundles/support-agent", config_repo.root / "bundles" / name
            )
            rel = f"bundles/{name}/bundle.yaml"
            text = text.replace("name: support-agent", f"name: {name}")
        else:
            rel = f"targets/{name}.yaml"
            text = text.replace("environment: production", f"environment: {name}")
        config_repo.write(rel, text)
        placed[case] = rel
    run = reconciler("--repo", config_repo.root, "validate", env=dict.fromkeys(SECRETS, "x"))
    assert run.code == 1, run.err
    assert "Traceback" not in run.err
    blamed = {line.split(":", 1)[0] for line in run.err.splitlines()}
    for case, rel in placed.items():
        assert rel in blamed, f"validate accepts {case.name}:\n{run.err}"
        assert refused[str(case)], f"the schema accepts {case.name}, which validate refuses"


def test_the_name_pattern_is_check_name() -> None:
    # The schemas spell check_name as a pattern; the two must agree on every kind of name.
    from reconciler.model.names import NAME_PATTERN, check_name

    names = [
        "a", "support-agent", "us-east-1", "v1.2", "a.", "a-", "a_b", "A9", "a._b", "a.-b",
        "", ".a", "-a", "_a", "a..b", "..", "a/b", "a b", "é", "a\\b", "a..", "9", "a.b.c",
    ]  # fmt: skip
    for name in names:
        try:
            check_name(name, "name")
            accepted = True
        except ValueError:
            accepted = False
        assert bool(re.search(NAME_PATTERN, name)) == accepted, name
