"""Bad input in bundle.yaml and targets/<env>.yaml: one line naming file and line, never a pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.bundle.render import render
from reconciler.config.inventory import load_inventory
from reconciler.config.worktree import WorkTreeFiles
from reconciler.errors import ConfigError
from tests.support.configrepo import ConfigRepo, inventory


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "repo")
    repo.bundle()
    return repo


def _render(repo: ConfigRepo, target: str | None = None):
    return render(WorkTreeFiles(repo.root), "support-agent", None, target)


def _error(fn) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        fn()
    message = str(info.value)
    assert "\n" not in message
    return info.value


def _edit(repo: ConfigRepo, old: str, new: str) -> None:
    path = repo.root / "bundles/support-agent/bundle.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_valid_bundle_renders_every_component(repo: ConfigRepo) -> None:
    done = _render(repo)
    assert sorted(done.components) == [
        "guardrail/toxicity",
        "model",
        "prompt/system",
        "tool/write_report",
    ]
    assert done.components["prompt/system"] == {"text": "You help customers.\n"}
    assert done.digest.startswith("sha256:")


def test_unknown_key_names_file_and_line(repo: ConfigRepo) -> None:
    _edit(repo, "  provider: openai", "  provider: openai\n  temprature: 0.3")
    err = _error(lambda: _render(repo))
    assert str(err).startswith(
        "bundles/support-agent/bundle.yaml:6: unknown key 'model.temprature'"
    )


def test_broken_yaml_names_file_and_line(repo: ConfigRepo) -> None:
    _edit(repo, "prompts:", "prompts: [")
    err = _error(lambda: _render(repo))
    assert err.file == "bundles/support-agent/bundle.yaml"
    assert err.line is not None and "invalid YAML" in str(err)


def test_wrong_type_names_the_key(repo: ConfigRepo) -> None:
    _edit(repo, 'version: "2025-04-14"', "version: 2025-04-14")
    err = _error(lambda: _render(repo))
    assert ":7: model.version" in str(err) and "quote it" in str(err)


@pytest.mark.parametrize("ref", ["../../../etc/passwd", "/etc/passwd", "prompts/../../x.md"])
def test_path_escaping_the_bundle_is_refused(repo: ConfigRepo, ref: str) -> None:
    _edit(repo, "file: prompts/system.md", f"file: {ref}")
    err = _error(lambda: _render(repo))
    assert "outside the bundle folder" in str(err)


def test_missing_file_is_named(repo: ConfigRepo) -> None:
    _edit(repo, "file: prompts/system.md", "file: prompts/nope.md")
    err = _error(lambda: _render(repo))
    assert "bundles/support-agent/prompts/nope.md: file not found" in str(err)


def test_tool_without_schema_is_refused(repo: ConfigRepo) -> None:
    repo.write("bundles/support-agent/tools/write_report.json", {"name": "write_report"})
    err = _error(lambda: _render(repo))
    assert err.file == "bundles/support-agent/tools/write_report.json"


def test_broken_tool_json_names_the_file(repo: ConfigRepo) -> None:
    repo.write("bundles/support-agent/tools/write_report.json", '{"name": ')
    err = _error(lambda: _render(repo))
    assert err.file == "bundles/support-agent/tools/write_report.json"


def test_overlay_deep_merges_for_its_target_only(repo: ConfigRepo) -> None:
    repo.write(
        "bundles/support-agent/overlays/eu-west-1.yaml", "model:\n  params: {temperature: 0.5}\n"
    )
    eu = _render(repo, "eu-west-1")
    us = _render(repo, "us-east-1")
    assert eu.components["model"]["params"] == {"temperature": 0.5, "max_output_tokens": 1024}
    assert us.components["model"]["params"]["temperature"] == 0.2


def test_overlay_unknown_key_blames_the_overlay(repo: ConfigRepo) -> None:
    repo.write("bundles/support-agent/overlays/eu-west-1.yaml", "modle: {}\n")
    err = _error(lambda: _render(repo, "eu-west-1"))
    assert str(err).startswith("bundles/support-agent/overlays/eu-west-1.yaml:1: unknown key")


def test_inventory_unknown_key_in_source(repo: ConfigRepo) -> None:
    repo.write(
        "targets/production.yaml",
        inventory([{"name": "a", "source": {"type": "http", "url": "http://x", "timout": "5s"}}]),
    )
    err = _error(lambda: load_inventory(repo.root, "production"))
    assert "targets/production.yaml:" in str(err)
    assert "unknown key 'targets[0].source.timout'" in str(err)


def test_inventory_duplicate_target_and_bad_duration(repo: ConfigRepo) -> None:
    target = {"name": "a", "source": {"type": "file", "path": "x.json"}}
    repo.write("targets/production.yaml", inventory([target, target]))
    assert "listed twice" in str(_error(lambda: load_inventory(repo.root, "production")))
    repo.write(
        "targets/production.yaml", inventory([target], rollout={"progress_deadline": "soon"})
    )
    assert "not a duration" in str(_error(lambda: load_inventory(repo.root, "production")))


def test_unknown_environment_lists_the_known_ones(repo: ConfigRepo) -> None:
    repo.write(
        "targets/production.yaml",
        inventory([{"name": "a", "source": {"type": "file", "path": "x.json"}}]),
    )
    err = _error(lambda: load_inventory(repo.root, "prod"))
    assert "environments: production" in str(err)


def test_duplicate_target_points_at_the_duplicate(repo: ConfigRepo) -> None:
    target = {"name": "a", "source": {"type": "file", "path": "x.json"}}
    other = {"name": "b", "source": {"type": "file", "path": "y.json"}}
    repo.write("targets/production.yaml", inventory([target, other, target]))
    err = _error(lambda: load_inventory(repo.root, "production"))
    lines = (repo.root / "targets/production.yaml").read_text().splitlines()
    third = [n for n, line in enumerate(lines, start=1) if '"name": "a"' in line][1]
    assert str(err) == (
        f"targets/production.yaml:{third}: targets[2].name: target 'a' is listed twice"
    )


def test_path_escape_in_an_overlay_blames_the_overlay(repo: ConfigRepo) -> None:
    repo.write(
        "bundles/support-agent/overlays/eu-west-1.yaml",
        "# eu prompts\nprompts:\n  system: {file: ../../x.md}\n",
    )
    err = _error(lambda: _render(repo, "eu-west-1"))
    assert str(err) == (
        "bundles/support-agent/overlays/eu-west-1.yaml:3: file '../../x.md' is outside the "
        "bundle folder"
    )
    # The same reference from bundle.yaml is bundle.yaml's fault.
    _edit(repo, "file: prompts/system.md", "file: ../../x.md")
    assert str(_error(lambda: _render(repo))).startswith("bundles/support-agent/bundle.yaml:")


def test_missing_file_named_by_an_overlay_blames_the_overlay(repo: ConfigRepo) -> None:
    repo.write(
        "bundles/support-agent/overlays/eu-west-1.yaml", "prompts:\n  system: {file: eu.md}\n"
    )
    err = _error(lambda: _render(repo, "eu-west-1"))
    assert str(err) == (
        "bundles/support-agent/overlays/eu-west-1.yaml:2: "
        "bundles/support-agent/eu.md: file not found"
    )


def _http(**source: object) -> dict[str, object]:
    return {"name": "a", "source": {"type": "http", "url": "http://x/{bundle}", **source}}


@pytest.mark.parametrize(
    ("target", "key"),
    [
        (_http(timeout="0s"), "source.timeout"),
        (_http(timeout=0), "source.timeout"),
        (_http(timeout="99ms"), "source.timeout"),
        (_http(timeout="5m1s"), "source.timeout"),
        (_http(timeout="99999999999999999999d"), "source.timeout"),
        ({**_http(), "health": {"url": "http://x/h", "timeout": "0s"}}, "health.timeout"),
        ({**_http(), "probe": {"url": "http://x/p", "timeout": "1h"}}, "probe.timeout"),
    ],
)
def test_timeouts_outside_100ms_to_5m_are_refused(
    repo: ConfigRepo, target: dict[str, object], key: str
) -> None:
    repo.write("targets/production.yaml", f"# fleet\n{inventory([target])}")
    err = _error(lambda: load_inventory(repo.root, "production"))
    lines = (repo.root / "targets/production.yaml").read_text().splitlines()
    line = next(n for n, text in enumerate(lines, start=1) if '"timeout"' in text)
    assert str(err).startswith(f"targets/production.yaml:{line}: targets[0].{key}: ")
    assert "a timeout must be between 100ms and 5m, not " in str(err)


@pytest.mark.parametrize("timeout", ["100ms", "0.1s", "5m", "300s", 2])
def test_timeouts_at_the_bounds_are_accepted(repo: ConfigRepo, timeout: object) -> None:
    repo.write("targets/production.yaml", inventory([_http(timeout=timeout)]))
    loaded = load_inventory(repo.root, "production")
    assert 0.1 <= loaded.targets[0].source.timeout <= 300


def test_environment_names_are_plain_names_before_any_file_is_read(repo: ConfigRepo) -> None:
    # targets/../bundles/support-agent/bundle.yaml exists: the name must not reach the disk.
    err = _error(lambda: load_inventory(repo.root, "../bundles/support-agent/bundle"))
    assert str(err) == (
        "environment '../bundles/support-agent/bundle' may hold only letters, digits, "
        "'.', '_' and '-'"
    )


def test_a_symbolic_link_in_the_working_tree_is_refused_like_git_does(repo: ConfigRepo) -> None:
    prompt = repo.root / "bundles/support-agent/prompts/system.md"
    (prompt.parent / "real.md").write_text("hello\n")
    prompt.unlink()
    prompt.symlink_to("real.md")  # inside the bundle, and still refused
    err = _error(lambda: _render(repo))
    assert str(err) == (
        "bundles/support-agent/prompts/system.md: symbolic links are not allowed in a bundle"
    )


def test_a_render_larger_than_the_fetch_cap_is_refused(
    repo: ConfigRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = len(_render(repo).to_bytes())
    monkeypatch.setattr("reconciler.bundle.render.MAX_DOCUMENT", size - 1)
    err = _error(lambda: _render(repo))
    assert str(err).startswith(
        f"bundles/support-agent/bundle.yaml: bundle 'support-agent' renders to {size} bytes"
    )
    assert "refused, nothing was written" in str(err)
    monkeypatch.setattr("reconciler.bundle.render.MAX_DOCUMENT", size)
    assert _render(repo).digest
