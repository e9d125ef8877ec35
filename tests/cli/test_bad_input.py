"""Bad input end to end: a clear one-line error or an honest status, never a traceback."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from reconciler.revisions import SHORT
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
    return repo.render().to_bytes()


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


def test_environment_names_are_plain_names(repo: ConfigRepo) -> None:
    for command in (["audit"], ["skew"], ["converge"]):
        run = reconciler("--repo", repo.root, *command, "--env", "../bundles/support-agent/bundle")
        _one_line_error(run, "environment '../bundles/support-agent/bundle' may hold only")


def test_a_fifo_target_is_unreachable_not_a_hang(repo: ConfigRepo) -> None:
    (repo.root / "fleet/a").mkdir(parents=True)
    os.mkfifo(repo.root / "fleet/a/support-agent.json")
    started = time.monotonic()
    run = reconciler(
        "--repo", repo.root, "audit", "--env", "production", "--format", "json", timeout=20
    )
    assert time.monotonic() - started < 5
    assert run.code == 2, run.err
    (target,) = run.json()["targets"]
    assert target["status"] == "unreachable"
    assert target["error"] == "fleet/a/support-agent.json is a FIFO, not a regular file"


def test_a_missing_git_object_names_the_file_and_the_revision(repo: ConfigRepo) -> None:
    sha = repo.git("rev-parse", "HEAD").strip()
    blob = repo.git("rev-parse", "HEAD:bundles/support-agent/prompts/system.md").strip()
    (repo.root / ".git/objects" / blob[:2] / blob[2:]).unlink()  # a damaged clone
    expected = (
        f"bundles/support-agent/prompts/system.md: git object {blob[:SHORT]} is missing at "
        f"revision {sha[:SHORT]}"
    )
    for command in (["render", "support-agent"], ["audit", "--env", "production"]):
        _one_line_error(reconciler("--repo", repo.root, *command), expected)


def _line_of(repo: ConfigRepo, rel: str, text: str) -> int:
    lines = (repo.root / rel).read_text().splitlines()
    return next(n for n, line in enumerate(lines, start=1) if text in line)


def test_validate_warns_about_unset_variables_never_printing_values(repo: ConfigRepo) -> None:
    targets = [
        {"name": "a", "source": {"type": "file", "path": "fleet/a/{bundle}.json"}},
        {
            "name": "us",
            "source": {
                "type": "http",
                "url": "https://${US_HOST}/{bundle}.json",
                "headers": {"Authorization": "Bearer ${US_TOKEN}"},
            },
        },
        {"name": "us-2", "source": {"type": "http", "url": "https://${US_HOST}:8443/x"}},
        {
            "name": "eu",
            "source": {
                "type": "s3",
                "bucket": "configs",
                "key": "{bundle}.json",
                "endpoint_url": "${EU_S3}",  # wholly a variable: only its value can be wrong
            },
        },
    ]
    repo.write("targets/production.yaml", inventory(targets))
    run = reconciler("--repo", repo.root, "validate", env={"US_TOKEN": "s3cr3t-t0ken"})
    assert run.code == 0, run.err
    us = _line_of(repo, "targets/production.yaml", '"name": "us"')
    eu = _line_of(repo, "targets/production.yaml", '"name": "eu"')
    assert run.err.splitlines() == [  # one warning a variable, at the first target naming it
        f"warning: targets/production.yaml:{us}: targets us, us-2: environment variable US_HOST "
        "is not set (audit will fail until it is)",
        f"warning: targets/production.yaml:{eu}: target eu: environment variable EU_S3 "
        "is not set (audit will fail until it is)",
    ]
    assert "s3cr3t-t0ken" not in run.out + run.err
    # audit refuses what validate warned about
    _one_line_error(
        reconciler("--repo", repo.root, "audit", "--env", "production"),
        "target us: environment variable US_HOST is not set",
    )


def test_validate_opens_every_source_as_audit_does_without_io(repo: ConfigRepo) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        here = f"http://127.0.0.1:{listener.getsockname()[1]}"
        good = [
            {
                "name": "store",
                "source": {
                    "type": "s3",
                    "bucket": "configs",
                    "key": "{bundle}.json",
                    "endpoint_url": here,
                },
                "health": {"url": f"{here}/healthz"},
                "probe": {"url": f"{here}/loaded"},
            },
            {"name": "web", "source": {"type": "http", "url": f"{here}/{{bundle}}.json"}},
            {"name": "prompts", "source": {"type": "mlflow", "url": here}},
            {
                "name": "flags",
                "source": {
                    "type": "unleash",
                    "url": here,
                    "environment": "production",
                    "token": "t",
                },
            },
        ]
        bad = {
            "bad-header": {
                "type": "http",
                "url": "http://${HOST}/x",
                "headers": {"Bad Header": "1"},
            },
            "bad-bucket": {"type": "s3", "bucket": "no/slash", "key": "k"},
            "bad-alias": {"type": "mlflow", "url": here, "alias": "latest"},
            "bad-token": {"type": "unleash", "url": here, "environment": "p", "token": " "},
        }
        targets = good + [{"name": name, "source": source} for name, source in bad.items()]
        repo.write("targets/production.yaml", inventory(targets))
        started = time.monotonic()
        run = reconciler("--repo", repo.root, "validate")
        assert time.monotonic() - started < 10
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected: validate did no network I/O
    assert run.code == 1
    errors = [line for line in run.err.splitlines() if not line.startswith("warning: ")]
    assert errors[-1] == "4 error(s)", run.err
    for name, error in zip(bad, errors, strict=False):
        line = _line_of(repo, "targets/production.yaml", f'"name": "{name}"')
        assert error.startswith(f"targets/production.yaml:{line}: target {name}: "), error
    audit = reconciler("--repo", repo.root, "audit", "--env", "production")
    assert audit.code == 1 and "target bad-header" in audit.err


def test_github_annotates_every_target_that_cannot_be_judged(
    repo: ConfigRepo, tmp_path: Path
) -> None:
    repo.write("fleet/ok/support-agent.json", _document(repo))
    kinds = {"gone": 8, "empty": 8, "junk": 8}  # unreachable, missing, invalid
    lines = ["environment: production", "bundles: [support-agent]", "targets:"]
    lines += ["  - name: ok", '    source: {type: file, path: "fleet/ok/{bundle}.json"}']
    for kind, count in kinds.items():
        for n in range(count):
            name = f"{kind}-{n}"
            lines += [f"  - name: {name}", "    kind: pop"]
            lines += [f'    source: {{type: file, path: "fleet/{name}/{{bundle}}.json"}}']
            if kind != "gone":
                (repo.root / "fleet" / name).mkdir(parents=True)
            if kind == "junk":
                (repo.root / "fleet" / name / "support-agent.json").write_text("not json")
    repo.write("targets/production.yaml", "\n".join(lines) + "\n")
    summary = tmp_path / "summary.md"
    args = ["--repo", repo.root, "audit", "--env", "production"]
    run = reconciler(*args, "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert run.code == 2, run.err
    statuses = {t["name"]: t for t in reconciler(*args, "--format", "json").json()["targets"]}
    annotations = run.out.splitlines()
    for name, target in statuses.items():
        line = lines.index(f"  - name: {name}") + 1
        expected = (
            f"::error file=targets/production.yaml,line={line}::"
            f"{name}: {target['status']}: {target['error']}"
        )
        if name == "ok":
            assert target["status"] == "in_sync"
            assert not [a for a in annotations if f"::{name}:" in a]
        else:
            assert target["status"] in ("unreachable", "missing", "invalid")
            assert expected in annotations, (expected, annotations)
    assert len([a for a in annotations if a.startswith("::error file=targets/")]) == 24
