"""Benchmark: the history index on 1000 commits of a 20-file bundle folder.

Measured in one run: the naive walk (GitPython reads every file of every commit), our cold
index (empty cache: renders each distinct bundle tree, parsing each distinct blob once), and our
warm index (the on-disk cache, keyed by git object ids, as a second audit finds it).

Run: ``.venv/bin/python -m tests.bench.bench_history``.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from reconciler.bundle.gitrepo import GitRepo
from reconciler.bundle.history import BundleHistory, DigestCache

COMMITS = 1000
PROMPTS = 18  # + bundle.yaml + one tool = 20 files

SPEC = (
    "name: support-agent\nmodel: {provider: openai, name: gpt-4.1}\nprompts:\n"
    + "".join(f"  p{i}: {{file: prompts/p{i}.md}}\n" for i in range(PROMPTS))
    + "tools:\n  t: {schema: tools/t.json}\n"
)
TOOL = '{"name": "t", "parameters": {"type": "object", "properties": {"a": {"type": "string"}}}}'


def _blob(path: str, data: str) -> str:
    raw = data.encode()
    return f"M 100644 inline {path}\ndata {len(raw)}\n".encode().decode() + data + "\n"


def build(root: Path) -> None:
    """1000 commits with git fast-import; each rewrites one prompt."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    stream = []
    for n in range(COMMITS):
        stamp = 1_700_000_000 + n * 60
        stream.append(f"commit refs/heads/main\ncommitter T <t@e> {stamp} +0000\n")
        message = f"change {n}"
        stream.append(f"data {len(message)}\n{message}\n")
        if n == 0:
            stream.append(_blob("bundles/support-agent/bundle.yaml", SPEC))
            stream.append(_blob("bundles/support-agent/tools/t.json", TOOL))
            for i in range(PROMPTS):
                stream.append(_blob(f"bundles/support-agent/prompts/p{i}.md", f"prompt {i}\n"))
        else:
            i = n % PROMPTS
            stream.append(_blob(f"bundles/support-agent/prompts/p{i}.md", f"prompt {i} v{n}\n"))
        stream.append("\n")
    subprocess.run(
        ["git", "-C", str(root), "fast-import", "--quiet"],
        input="".join(stream).encode(),
        check=True,
    )
    subprocess.run(["git", "-C", str(root), "reset", "-q", "--hard"], check=True)


def naive(root: Path) -> float:
    import git

    started = time.perf_counter()
    repo = git.Repo(root)
    for commit in repo.iter_commits("HEAD", paths="bundles/support-agent"):
        for item in (commit.tree / "bundles/support-agent").traverse():
            if item.type == "blob":
                item.data_stream.read()
    repo.close()
    return time.perf_counter() - started


def index(root: Path, cache: Path) -> float:
    started = time.perf_counter()
    git = GitRepo(root)
    store = DigestCache(cache)
    history = BundleHistory(git, "support-agent", git.commit("HEAD").hexsha, store)
    lineage = history.lineage(None, lambda _key: True)
    store.save()
    git.close()
    assert len(lineage.subsets) == COMMITS and None not in lineage.subsets
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        root = Path(tmp) / "repo"
        build(root)
        cache = Path(tmp) / "cache.json"
        floor = naive(root)
        cold = index(root, cache)
        warm = index(root, cache)
        print(f"{COMMITS} commits of a 20-file bundle folder:")
        print(f"  naive (GitPython, every blob of every commit): {floor:.2f} s")
        print(f"  index, cold cache: {cold:.2f} s ({cold / floor:.2f}x naive)")
        print(f"  index, warm cache: {warm:.2f} s ({warm / floor:.3f}x naive)")


if __name__ == "__main__":
    main()
