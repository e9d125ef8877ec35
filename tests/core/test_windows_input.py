"""Bad promotion and window input: one line naming the file and line (design §14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.audit.validate import validate_repo
from reconciler.config.inventory import load_inventory
from reconciler.errors import ConfigError
from tests.support.configrepo import ConfigRepo

TARGET = "targets:\n  - {name: a, source: {type: file, path: a.json}}\n"


def _write(repo: ConfigRepo, env: str, tail: str) -> None:
    text = f"# targets/{env}.yaml\nenvironment: {env}\nbundles: [support-agent]\n{TARGET}{tail}"
    repo.write(f"targets/{env}.yaml", text)


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "repo")
    repo.bundle()
    _write(repo, "staging", "")
    return repo


WINDOWS = (
    "windows:\n  timezone: {zone}\n  allow:\n"
    '    - {{rrule: "{rule}", start: "09:00", duration: 8h}}\n'
)


@pytest.mark.parametrize(
    ("tail", "line", "words"),
    [
        (
            WINDOWS.format(zone="Europe/Berlin", rule="FREQ=WEEKLY;BYDAY=XX"),
            9,
            "invalid RRULE 'FREQ=WEEKLY;BYDAY=XX'",
        ),
        (
            WINDOWS.format(zone="Mars/Olympus", rule="FREQ=WEEKLY;BYDAY=MO"),
            7,
            "unknown time zone 'Mars/Olympus'",
        ),
        ("promotion: {from: staging, soak: -1h}\n", 6, "soak"),
        ("promotion: {from: staging, soak: -5}\n", 6, "cannot be negative"),
        (
            "windows:\n  timezone: UTC\n  deny:\n"
            "    - {from: '2026-12-20T00:00', to: '2026-12-01T00:00', reason: freeze}\n",
            9,
            "deny period ends (2026-12-01T00:00) before it starts (2026-12-20T00:00)",
        ),
        ("promotion: {from: production}\n", 6, "names this environment itself"),
    ],
)
def test_bad_input_is_one_line_naming_file_and_line(
    repo: ConfigRepo, tail: str, line: int, words: str
) -> None:
    _write(repo, "production", tail)
    with pytest.raises(ConfigError) as info:
        load_inventory(repo.root, "production")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"targets/production.yaml:{line}: ")
    assert words in message


def _validated(repo: ConfigRepo) -> list[str]:
    errors, _ = validate_repo(repo.root, {})
    return [str(e) for e in errors]


def test_from_naming_a_missing_environment(repo: ConfigRepo) -> None:
    _write(repo, "production", "promotion:\n  from: stagin\n  soak: 2h\n")
    assert _validated(repo) == [
        "targets/production.yaml:7: promotion.from: no environment 'stagin' "
        "(environments: production, staging)"
    ]


def test_a_cycle_of_promotions(repo: ConfigRepo) -> None:
    _write(repo, "production", "promotion:\n  from: staging\n")
    _write(repo, "staging", "promotion:\n  from: production\n")
    assert _validated(repo) == [
        "targets/production.yaml:7: promotion.from: a cycle of promotions: "
        "production <- staging <- production",
        "targets/staging.yaml:7: promotion.from: a cycle of promotions: "
        "staging <- production <- staging",
    ]


def test_a_valid_chain_validates(repo: ConfigRepo) -> None:
    _write(repo, "production", "promotion:\n  from: staging\n  soak: 2h\n")
    assert _validated(repo) == []
