"""GitRepo.preload reads many blobs through the long-lived git cat-file, a chunk at a time:
more ids than a chunk, blobs larger than a pipe, and a missing id, without a deadlock."""

from __future__ import annotations

import subprocess
from pathlib import Path

from reconciler.bundle.gitrepo import GitRepo
from reconciler.bundle.gitrepo.process import CHUNK


def test_many_blobs_large_ones_and_a_missing_one(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    datas = [(f"blob {n}\n" * (20_000 if n % 300 == 0 else 1)).encode() for n in range(560)]
    paths = []
    for n, data in enumerate(datas):  # more than a chunk; some of 140 KB
        paths.append(tmp_path / f"f{n}")
        paths[-1].write_bytes(data)
    out = subprocess.run(
        ["git", "-C", str(tmp_path), "hash-object", "-w", "--stdin-paths"],
        input="\n".join(map(str, paths)) + "\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    blobs = dict(zip(out, datas, strict=True))
    assert len(blobs) > CHUNK
    missing = "0" * 40
    git = GitRepo(tmp_path)
    git.preload([*blobs, missing])
    for oid, data in blobs.items():
        assert git._blobs[oid] == data
    assert missing not in git._blobs
    assert git.blob(next(iter(blobs)), "x", "y") == next(iter(blobs.values()))  # still serving
    git.close()


def test_a_feed_reads_while_it_is_asked(tmp_path: Path) -> None:
    """Objects asked a few at a time as their ids turn up (the log pass does), answers read by
    a thread: blobs larger than a pipe, missing ids (the feed's own end marker among them)."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    datas = [(f"blob {n}\n" * (20_000 if n % 100 == 0 else 1)).encode() for n in range(600)]
    paths = []
    for n, data in enumerate(datas):
        paths.append(tmp_path / f"f{n}")
        paths[-1].write_bytes(data)
    out = subprocess.run(
        ["git", "-C", str(tmp_path), "hash-object", "-w", "--stdin-paths"],
        input="\n".join(map(str, paths)) + "\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    blobs = dict(zip(out, datas, strict=True))
    ids = [*blobs, "0" * 40, "1" * 40, "not an id"]
    git = GitRepo(tmp_path)
    with git.feeding() as feed:
        for start in range(0, len(ids), 7):
            feed.ask(ids[start : start + 7])
    assert not feed.failed
    assert {oid: git._blobs[oid] for oid in blobs} == blobs
    assert not {"0" * 40, "1" * 40} & git._blobs.keys()
    assert git.blob(out[1], "x", "y") == datas[1]  # the process serves on
    with git.feeding() as feed:  # and feeds again
        feed.ask([out[2]])
    git.close()
