"""History digests assembled from known blobs (bundle/parts.py) equal a full render's, revision
by revision, through files that break, mend and turn into links (issue 18)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from reconciler.bundle.gitrepo import GitFiles, GitRepo
from reconciler.bundle.history import BundleHistory, DigestCache
from reconciler.bundle.inputs import InputRenders
from reconciler.bundle.render import render
from reconciler.canonical import bundle_digest
from reconciler.errors import ConfigError, ReconcilerError
from tests.support.configrepo import BUNDLE_YAML, tool

FOLDER = "bundles/support-agent"
PROMPT = f"{FOLDER}/prompts/system.md"
TOOL = f"{FOLDER}/tools/write_report.json"


def _commit(root: Path, files: dict[str, bytes | None], link: str | None = None) -> str:
    for path, data in files.items():
        file = root / path
        if file.is_symlink() or file.exists():
            file.unlink()
        if data is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(data)
    if link is not None:
        (root / link).unlink()
        os.symlink("../bundle.yaml", root / link)
    git = ["git", "-C", str(root)]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "change"], check=True)
    done = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("parts")
    env = {"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "T"}
    os.environ.update(env | {"GIT_COMMITTER_EMAIL": "t@e"})
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    spec = BUNDLE_YAML.format(name="support-agent").encode()
    good = json.dumps(tool()).encode()
    shas = [
        _commit(
            root,
            {
                f"{FOLDER}/bundle.yaml": spec,
                PROMPT: b"You help.\n",
                TOOL: good,
                f"{FOLDER}/overlays/eu.yaml": b"model: {params: {temperature: 0.5}}\n",
            },
        ),
        _commit(root, {PROMPT: b"You help, briefly.\n"}),
        _commit(root, {TOOL: json.dumps({"description": "no name"}).encode()}),  # breaks
        _commit(root, {TOOL: json.dumps(tool("verdict")).encode()}),  # mends
        _commit(root, {PROMPT: b"\xff not UTF-8\n"}),  # breaks
        _commit(root, {PROMPT: b"You help again.\n"}),
        _commit(root, {}, link=PROMPT),  # a link: only a render can tell
        _commit(root, {PROMPT: b"You help at last.\n"}),
        _commit(root, {TOOL: b"[1, 2]"}),  # not an object
        _commit(root, {TOOL: good}),
    ]
    return root, shas[::-1]


def _exact(git: GitRepo, sha: str, target: str | None) -> dict[str, str] | None:
    try:
        return render(GitFiles(git, sha), "support-agent", sha, target).digests
    except (ConfigError, ReconcilerError):
        return None


@pytest.mark.parametrize("target", [None, "eu"])
def test_assembled_digests_equal_a_render_at_every_revision(
    history: tuple[Path, list[str]], target: str | None
) -> None:
    root, shas = history
    git = GitRepo(root)
    inputs = InputRenders(git, "support-agent")
    got = [inputs.digests(sha, target) for sha in shas]  # newest first, as a lineage walks
    want = [_exact(git, sha, target) for sha in shas]
    git.close()
    assert got == want
    assert [value is None for value in got].count(True) == 4  # the four broken revisions
    assert inputs.assembled >= 5  # most revisions changed only a file: no render for them
    assert inputs.renders == inputs.distinct() == len(shas)


def test_a_new_process_reads_the_saved_index_and_renders_nothing(
    history: tuple[Path, list[str]], tmp_path: Path
) -> None:
    root, shas = history
    git = GitRepo(root)
    first = DigestCache(tmp_path / "history.json")
    inputs = InputRenders(git, "support-agent", first.index)
    want = [inputs.digests(sha, "eu") for sha in shas]
    first.save()  # the tree-keyed cache (empty here) and the index beside it
    assert (tmp_path / "history-blobs.json").exists()
    again = InputRenders(git, "support-agent", DigestCache(tmp_path / "history.json").index)
    # A revision whose files were all seen needs neither a render nor a blob read.
    got = [again.digests(sha, "eu") for sha in shas]
    git.close()
    assert got == want
    assert again.renders == 0
    assert again.distinct() == len(shas)


def test_a_damaged_or_tampered_index_is_only_a_slower_audit(
    history: tuple[Path, list[str]], tmp_path: Path
) -> None:
    root, shas = history
    git = GitRepo(root)
    first = DigestCache(tmp_path / "history.json")
    want = [InputRenders(git, "support-agent", first.index).digests(sha, "eu") for sha in shas]
    first.save()
    blobs = tmp_path / "history-blobs.json"
    saved = json.loads(blobs.read_text())
    for key, value in saved["entries"].items():
        if key.startswith("shape:"):  # component keys without a kind, paths nowhere
            value["files"] = json.dumps([["noslash", "nowhere"], ["prompt", PROMPT]])
    blobs.write_text(json.dumps(saved))
    tampered = InputRenders(git, "support-agent", DigestCache(tmp_path / "history.json").index)
    assert len([tampered.digests(sha, "eu") for sha in shas]) == len(shas)  # no exception
    blobs.write_bytes(b'{"version": 1, "entries": {"shape:')  # cut short
    damaged = InputRenders(git, "support-agent", DigestCache(tmp_path / "history.json").index)
    got = [damaged.digests(sha, "eu") for sha in shas]
    git.close()
    assert got == want
    assert damaged.renders == damaged.distinct() == len(shas)  # nothing came from the index


@pytest.mark.parametrize("target", [None, "eu"])
@pytest.mark.parametrize("carried", ["all", "prompts"])
def test_a_lineage_stepped_as_deltas_equals_a_render_at_every_revision(
    history: tuple[Path, list[str]], target: str | None, carried: str
) -> None:
    """Each revision a delta on the newer one (bundle/deltas.py) through files that break, mend
    and turn into links: the carried subset a full render gives, revision by revision."""
    root, shas = history

    def keep(key: str) -> bool:
        return carried == "all" or key.startswith("prompt/")

    git = GitRepo(root)
    found = BundleHistory(git, "support-agent", shas[0], DigestCache(None))
    assert found.walked is not None and found.walked.chain == len(shas)  # stepped all the way
    got = list(found.lineage(target, keep).subsets)
    want = []
    for sha in shas:
        digests = _exact(git, sha, target)
        want.append(
            None
            if digests is None
            else bundle_digest({k: v for k, v in digests.items() if keep(k)})
        )
    git.close()
    assert got == want
    assert found.inputs.assembled >= 5  # most revisions changed only a file: no render for them
    assert found.inputs.renders == found.inputs.distinct()  # each input set counted once


@pytest.mark.parametrize(
    "text",
    ["", "prompt 1\n", 'é \u2028 \x00 \x1f " \\ / \U0001f600 \x7f \t\r\b\f', "x" * 5000 + "\n\n"],
)
def test_a_prompts_part_is_the_canonical_digest_and_measure(text: str) -> None:
    """The prompt part's shortcut gives the digest and the measured size the generic encoders
    give, escapes and all."""
    from reconciler.bundle.parts import _prompt_text, measure
    from reconciler.canonical import digest

    value = {"text": text}
    assert _prompt_text(text) == (digest(value), measure(value))
