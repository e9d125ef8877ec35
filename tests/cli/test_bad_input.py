"""Bad input end to end: a clear one-line error or an honest status, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.gitrepo import GitFiles, GitRepo
from reconciler.render import render
from tests.servers.nginx import Nginx
from tests.sources.support import closed_port, silent_port
from tests.support.cli import Run, reconciler
from tests.support.configrepo import ConfigRepo, inventory


def _one_line_error(run: Run, *needles: str) -> None:
    assert run.code == 1, (run.out, run.err)
    assert "Traceback" not in run.err
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1, run.err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    repo.write(
        "targets/production.yaml",
        inventory([{"name": "a", "source": {"type": "file", "path": "fleet/a/{bundle}.json"}}]),
    )
    repo.commit("v1")
    return repo


def _document(repo: ConfigRepo) -> bytes:
    git = GitRepo(repo.root)
    sha = git.commit("HEAD").hexsha
    return render(GitFiles(git, sha), "support-agent", sha).to_bytes()


def test_broken_inventory_yaml(repo: ConfigRepo) -> None:
    repo.write("targets/production.yaml", "environment: production\ntargets: [\n")
    run = reconciler("--repo", repo.root, "audit", "--env", "production")
    _one_line_error(run, "targets/production.yaml:", "invalid YAML")


def test_unknown_key_in_committed_bundle(repo: ConfigRepo) -> None:
    path = repo.root / "bundles/support-agent/bundle.yaml"
    path.write_text(path.read_text().replace("prompts:", "prompt:"))
    repo.commit("typo")
    run = reconciler("--repo", repo.root, "audit", "--env", "production")
    _one_line_error(run, "bundles/support-agent/bundle.yaml:", "unknown key 'prompt'")


def test_uncommitted_bundle_edit_is_not_desired(repo: ConfigRepo) -> None:
    repo.write("fleet/a/support-agent.json", _document(repo))
    repo.bundle(prompt="an uncommitted edit\n")
    run = reconciler("--repo", repo.root, "audit", "--env", "production", "--format", "json")
    assert run.code == 0, run.err
    assert run.json()["summary"]["in_sync"] == 1


def test_not_a_git_repo_and_unknown_env(tmp_path: Path, repo: ConfigRepo) -> None:
    (tmp_path / "plain" / "targets").mkdir(parents=True)
    (tmp_path / "plain" / "targets" / "production.yaml").write_text(
        (repo.root / "targets/production.yaml").read_text()
    )
    _one_line_error(
        reconciler("--repo", tmp_path / "plain", "audit", "--env", "production"),
        "not a git repository",
    )
    _one_line_error(
        reconciler("--repo", repo.root, "audit", "--env", "prod"), "no such environment 'prod'"
    )


def test_missing_variable_names_target_not_value(repo: ConfigRepo) -> None:
    repo.write(
        "targets/production.yaml",
        inventory(
            [
                {
                    "name": "a",
                    "source": {
                        "type": "http",
                        "url": "http://127.0.0.1:1/x",
                        "headers": {"Authorization": "Bearer ${POP_TOKEN}"},
                    },
                }
            ]
        ),
    )
    run = reconciler("--repo", repo.root, "audit", "--env", "production")
    _one_line_error(run, "target a", "POP_TOKEN")


def test_render_unknown_revision_and_bundle(repo: ConfigRepo) -> None:
    _one_line_error(
        reconciler("--repo", repo.root, "render", "support-agent", "--revision", "nope"),
        "unknown revision 'nope'",
    )
    _one_line_error(reconciler("--repo", repo.root, "render", "other"), "bundle 'other'")


def test_every_unobservable_target_gets_an_honest_status(
    repo: ConfigRepo, nginx: Nginx, tmp_path: Path
) -> None:
    good = _document(repo)
    served = tmp_path / "served"
    (served / "html").mkdir(parents=True)
    (served / "html" / "support-agent.json").write_text("<html><body>Bad gateway</body></html>")
    (served / "other").mkdir()
    other = json.loads(good)
    other["name"] = "billing-agent"
    (served / "other" / "support-agent.json").write_text(json.dumps(other))
    (served / "notbundle").mkdir()
    (served / "notbundle" / "support-agent.json").write_text('{"hello": "world"}')
    base = nginx.serve(served)
    repo.write("fleet/big/support-agent.json", b" " * (17 * 1024 * 1024) + good)
    (repo.root / "fleet/empty").mkdir(parents=True)
    with closed_port() as refused, silent_port() as silent:
        targets = [
            {"name": "html", "source": {"type": "http", "url": base + "html/{bundle}.json"}},
            {"name": "other", "source": {"type": "http", "url": base + "other/{bundle}.json"}},
            {
                "name": "notbundle",
                "source": {"type": "http", "url": base + "notbundle/{bundle}.json"},
            },
            {"name": "absent", "source": {"type": "http", "url": base + "absent/{bundle}.json"}},
            {"name": "down", "source": {"type": "http", "url": nginx.url("unavailable/x")}},
            {"name": "locked", "source": {"type": "http", "url": nginx.url("private/x.json")}},
            {
                "name": "refused",
                "source": {"type": "http", "url": f"http://127.0.0.1:{refused}/x.json"},
            },
            {
                "name": "slow",
                "source": {
                    "type": "http",
                    "timeout": "0.3s",
                    "url": f"http://127.0.0.1:{silent}/x.json",
                },
            },
            {"name": "big", "source": {"type": "file", "path": "fleet/big/{bundle}.json"}},
            {"name": "empty", "source": {"type": "file", "path": "fleet/empty/{bundle}.json"}},
            {"name": "nofolder", "source": {"type": "file", "path": "fleet/gone/{bundle}.json"}},
        ]
        repo.write("targets/production.yaml", inventory(targets))
        run = reconciler("--repo", repo.root, "audit", "--env", "production", "--format", "json")
    assert run.code == 2, run.err
    got = {t["name"]: (t["status"], t["error"] or "") for t in run.json()["targets"]}
    expected = {
        "html": ("invalid", "not JSON"),
        "other": ("invalid", "billing-agent"),
        "notbundle": ("invalid", "not a rendered bundle"),
        "absent": ("missing", ""),
        "down": ("unreachable", "503"),
        "locked": ("unreachable", "unauthorized"),
        "refused": ("unreachable", "refused"),
        "slow": ("unreachable", "timed out"),
        "big": ("invalid", "larger"),
        "empty": ("missing", ""),
        "nofolder": ("unreachable", "does not exist"),
    }
    for name, (status, needle) in expected.items():
        assert got[name][0] == status, (name, got[name])
        assert needle in got[name][1], (name, got[name])
    assert run.json()["summary"]["in_sync"] == 0


def test_validate_reports_every_error_with_file_and_line(repo: ConfigRepo) -> None:
    assert reconciler("--repo", repo.root, "validate").code == 0
    repo.write("bundles/support-agent/overlays/ghost.yaml", "model: {params: {temperature: 1}}\n")
    warned = reconciler("--repo", repo.root, "validate")
    assert warned.code == 0 and "no target named 'ghost'" in warned.err
    path = repo.root / "bundles/support-agent/bundle.yaml"
    path.write_text(path.read_text().replace("file: prompts/system.md", "file: ../../x.md"))
    repo.write(
        "targets/staging.yaml",
        "environment: staging\nbundles: [support-agent]\ntargets: []\nextra: 1\n",
    )
    run = reconciler("--repo", repo.root, "validate")
    assert run.code == 1
    line = path.read_text().splitlines().index("  system: {file: ../../x.md}") + 1
    assert f"bundles/support-agent/bundle.yaml:{line}: file '../../x.md' is outside" in run.err
    assert "targets/staging.yaml:" in run.err
    assert "Traceback" not in run.err
    path.write_text(path.read_text().replace("file: ../../x.md", "file: prompts/nope.md"))
    missing = reconciler("--repo", repo.root, "validate")
    assert missing.code == 1
    assert f"bundles/support-agent/bundle.yaml:{line}: " in missing.err
    assert "prompts/nope.md: file not found" in missing.err


@pytest.mark.parametrize(
    "args",
    [
        ["audit"],  # --env missing
        ["audit", "--env", "production", "--fail-on", "bogus"],
        ["audit", "--env", "production", "--format", "xml"],
        ["converge", "--env", "production", "--timeout", "soon"],
        ["rollback", "--env", "production"],  # --to missing
        ["--no-such-option", "audit"],
        ["no-such-command"],
    ],
)
def test_bad_arguments_exit_1_never_the_policy_code_2(repo: ConfigRepo, args: list[str]) -> None:
    run = reconciler("--repo", repo.root, *args)
    assert run.code == 1, run.out + run.err
    assert "Error:" in run.err and "Traceback" not in run.err
