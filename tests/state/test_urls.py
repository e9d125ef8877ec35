"""State URLs as the campaign wrote them (issue "Hardening, round 3"): a ``${VAR}`` password that
holds ``@``, ``/`` or ``:`` connects (it is percent-encoded into the URL), and no message about a
URL, nor the daemon's log, ever shows its password — against the session's real PostgreSQL."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reconciler.state.postgres import shown
from tests.servers.postgres import PG_BIN, Postgres
from tests.support.cli import reconciler
from tests.support.configrepo import ConfigRepo, inventory

PASSWORD = "p@ss/w:rd#Sec9x"


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    source = {"type": "file", "path": "fleet/a/{bundle}.json"}
    repo.write("targets/production.yaml", inventory([{"name": "a", "source": source}]))
    repo.commit("v1")
    return repo


def test_a_password_with_url_characters_from_a_variable_connects(
    repo: ConfigRepo, postgres: Postgres
) -> None:
    url = postgres.create_database("urls_encoded")
    database = url.rsplit("/", 1)[1]
    role = "rec_url"
    psql = [str(PG_BIN / "psql"), "-h", postgres.host, "-p", str(postgres.port), "-U", "postgres"]
    subprocess.run(
        [*psql, "-q", "-c", f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD 'x'"],
        check=True,
        capture_output=True,
    )
    state = f"postgresql://{role}:${{PGPW}}@{postgres.host}:{postgres.port}/{database}"
    run = reconciler(
        "--repo",
        repo.root,
        "--state",
        state,
        "rollout",
        "status",
        "--env",
        "production",
        env={"PGPW": PASSWORD},
    )
    assert "cannot connect" not in run.err, run.err
    assert run.code in (0, 2), run.out + run.err
    assert PASSWORD not in run.out + run.err


@pytest.mark.parametrize(
    "state",
    [
        "postgresql://rec:Sec%zzret-pw-1@127.0.0.1:1/db",  # a token psycopg quotes back
        "postgresql://rec:Sec@ret/pw:1@127.0.0.1:1/db",  # '@' and '/' unencoded
        "postgresql://rec@127.0.0.1:1/db?password=Secret-pw-1",
    ],
)
def test_no_message_about_a_state_url_shows_its_password(repo: ConfigRepo, state: str) -> None:
    run = reconciler(
        "--repo", repo.root, "--state", state, "rollout", "status", "--env", "production"
    )
    assert run.code == 1, run.out + run.err
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and ("state store" in lines[0] or "--state" in lines[0]), run.err
    assert "Sec" not in run.err and "ret" not in run.err.replace("rec", ""), run.err


def test_shown_masks_up_to_the_last_at() -> None:
    assert (
        shown("postgresql://rec:a@b/c:d@db.example:5432/x")
        == "postgresql://rec:***@db.example:5432/x"
    )
    assert shown("postgresql://rec@h/x?sslmode=require&password=s3") == (
        "postgresql://rec@h/x?sslmode=require&password=***"
    )
    assert shown("postgresql://h/x") == "postgresql://h/x"


def test_an_sqlite_path_that_cannot_be_made_is_one_line(repo: ConfigRepo) -> None:
    run = reconciler(
        "--repo",
        repo.root,
        "--state",
        "sqlite:////proc/nope/x.db",
        "rollout",
        "status",
        "--env",
        "production",
    )
    assert run.code == 1, run.out + run.err
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and "/proc/nope/x.db" in lines[0], run.err
    assert "internal error" not in run.err and "Traceback" not in run.err


def test_the_daemon_exits_1_on_a_state_url_it_cannot_use(repo: ConfigRepo) -> None:
    for state in ("garbage://x", "sqlite:////proc/nope/x.db"):
        run = reconciler(
            "--repo",
            repo.root,
            "daemon",
            "--env",
            "production",
            "--listen",
            "127.0.0.1:0",
            "--state",
            state,
            timeout=30,
        )
        assert run.code == 1, (state, run.err[-2000:])
        assert "--state" in run.err or "/proc/nope" in run.err, run.err
        assert "Traceback" not in run.err
