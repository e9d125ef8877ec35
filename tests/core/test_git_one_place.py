"""Git runs from one place (issue 20): only ``reconciler/bundle/gitrepo/`` starts a git process,
and only its pool opens a :class:`~reconciler.bundle.gitrepo.GitRepo`; everything else asks
``gitrepo.git()`` or ``gitrepo.repo_at()``.
"""

from __future__ import annotations

import re
from pathlib import Path

import reconciler

PACKAGE = Path(reconciler.__file__).parent
GITREPO = PACKAGE / "bundle" / "gitrepo"

#: A process started by the subprocess module (or os), however it is spelled.
_PROCESS = re.compile(
    r"\b(subprocess\.)?(run|Popen|call|check_call|check_output)\(|os\.(system|popen|exec\w*)\("
)
#: ``"git"`` as a command word: the first item of an argument list, or a string command.
_GIT_WORD = re.compile(r"""["']git["']\s*[,\]]|["']git\s""")


def _modules_outside_gitrepo() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if GITREPO not in p.parents]


def _source(path: Path) -> str:
    """The module's code without its comments and docstrings' prose lines (a docstring that
    says ``git log`` is no call)."""
    return "\n".join(line.split("#", 1)[0] for line in path.read_text().splitlines())


def test_no_module_outside_gitrepo_runs_git_as_a_process() -> None:
    offenders = []
    for path in _modules_outside_gitrepo():
        code = _source(path)
        if "subprocess" in code and _PROCESS.search(code) and _GIT_WORD.search(code):
            offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == [], f"git run outside bundle/gitrepo/: {offenders}"


def test_the_check_sees_a_git_process_when_there_is_one() -> None:
    planted = 'import subprocess\nsubprocess.run(["git", "-C", ".", "log"])\n'
    assert _PROCESS.search(planted) and _GIT_WORD.search(planted)
    gpg_only = 'import subprocess\nsubprocess.run(["gpg", "--list-keys"])\n'
    assert not _GIT_WORD.search(gpg_only)


def test_only_the_pool_opens_a_git_repo() -> None:
    opened = [
        str(path.relative_to(PACKAGE))
        for path in _modules_outside_gitrepo()
        if re.search(r"\bGitRepo\(", _source(path))
    ]
    assert opened == [], f"GitRepo opened outside its pool (use gitrepo.repo_at): {opened}"


def test_the_pool_shares_one_repo_per_folder(tmp_path: Path) -> None:
    from reconciler.bundle.gitrepo import git, repo_at

    git(tmp_path, "init", "-q")
    first = repo_at(tmp_path)
    assert repo_at(tmp_path / ".") is first
    assert repo_at(tmp_path).path == tmp_path.resolve()
