"""The ``file`` source against real folders: missing vs unreachable, size cap, atomic apply."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from reconciler.errors import ConfigError
from reconciler.sources import InvalidResponse, NotFound, PermanentError, TransientError
from reconciler.sources.file import FileSource

from .support import apply, failure, fetch, run, target

POP = target({"type": "file", "path": "fleet/pop-sin/{bundle}.json"})


def test_fetch_reads_the_file_named_by_the_bundle(tmp_path: Path) -> None:
    folder = tmp_path / "fleet/pop-sin"
    folder.mkdir(parents=True)
    (folder / "support-agent.json").write_bytes(b'{"name": "support-agent"}\n')
    (folder / "other.json").write_bytes(b"{}")
    assert run(POP, fetch("support-agent"), root=tmp_path) == b'{"name": "support-agent"}\n'


def test_missing_file_in_an_existing_folder_is_not_found(tmp_path: Path) -> None:
    (tmp_path / "fleet/pop-sin").mkdir(parents=True)
    error = failure(POP, fetch("support-agent"), root=tmp_path)
    assert type(error) is NotFound
    assert str(error) == "file fleet/pop-sin/support-agent.json does not exist"


def test_missing_folder_is_unreachable_not_missing(tmp_path: Path) -> None:
    error = failure(POP, fetch("support-agent"), root=tmp_path)
    assert type(error) is TransientError
    assert str(error) == "folder fleet/pop-sin does not exist"


def test_a_folder_where_the_file_should_be_is_a_permanent_error(tmp_path: Path) -> None:
    (tmp_path / "fleet/pop-sin/support-agent.json").mkdir(parents=True)
    error = failure(POP, fetch("support-agent"), root=tmp_path)
    assert type(error) is PermanentError
    assert "is a folder" in str(error)


def test_size_cap(tmp_path: Path) -> None:
    folder = tmp_path / "fleet/pop-sin"
    folder.mkdir(parents=True)
    (folder / "at-cap.json").write_bytes(b"x" * 100)
    (folder / "over-cap.json").write_bytes(b"x" * 101)
    assert run(POP, fetch("at-cap"), root=tmp_path, max_body=100) == b"x" * 100
    error = failure(POP, fetch("over-cap"), root=tmp_path, max_body=100)
    assert isinstance(error, InvalidResponse)
    assert str(error) == "response larger than 100 bytes"


def test_apply_creates_folders_and_fetch_reads_it_back(tmp_path: Path) -> None:
    run(POP, apply("support-agent", b'{"v": 1}'), root=tmp_path)
    assert (tmp_path / "fleet/pop-sin/support-agent.json").read_bytes() == b'{"v": 1}'
    assert run(POP, fetch("support-agent"), root=tmp_path) == b'{"v": 1}'
    assert os.stat(tmp_path / "fleet/pop-sin/support-agent.json").st_mode & 0o777 == 0o644


def test_apply_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "fleet/pop-sin/support-agent.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"old document")
    path.chmod(0o640)
    with open(path, "rb") as reader:  # a reader in the middle of the old version
        run(POP, apply("support-agent", b"new document, longer"), root=tmp_path)
        # Written in place, the reader would see a mix; renamed over, it keeps the old file.
        assert reader.read() == b"old document"
    assert path.read_bytes() == b"new document, longer"
    assert path.stat().st_mode & 0o777 == 0o640  # the file's mode survives
    assert sorted(p.name for p in path.parent.iterdir()) == ["support-agent.json"]  # no temp


ESCAPES = ["../outside/{bundle}.json", "fleet/../../{bundle}.json", "..", "/etc/x"]


@pytest.mark.parametrize("path", ESCAPES)
def test_path_escaping_the_repo_root_is_refused_by_the_inventory(path: str) -> None:
    # Lexically, in the inventory model: validate and audit both refuse it, at file:line.
    with pytest.raises(ValidationError) as caught:
        target({"type": "file", "path": path}, name="pop-evil")
    message = caught.value.errors()[0]["msg"]
    assert "escapes the repo root" in message or "must be relative to the repo root" in message


@pytest.mark.parametrize("path", ESCAPES)
def test_the_source_refuses_an_escape_on_its_own_too(tmp_path: Path, path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        FileSource(tmp_path / "repo", path, target="pop-evil", max_body=100)
    assert str(caught.value).startswith("target pop-evil: path ")
    assert "escapes the repo root" in str(caught.value)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    # Opening a FIFO for reading waits for a writer: the audit hung forever (issue 11, item 5).
    fifo = tmp_path / "fleet/pop-sin/support-agent.json"
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    # Should the read block after all, a writer turns up after 3 s: the test fails, not hangs.
    unblock = threading.Timer(3, _open_writer, [fifo])
    unblock.start()
    started = time.monotonic()
    try:
        error = failure(POP, fetch("support-agent"), root=tmp_path)
    finally:
        unblock.cancel()
    assert time.monotonic() - started < 2
    assert type(error) is PermanentError
    assert str(error) == "fleet/pop-sin/support-agent.json is a FIFO, not a regular file"
    # Nor is one replaced by a write: it is someone else's pipe.
    assert type(failure(POP, apply("support-agent", b"{}"), root=tmp_path)) is PermanentError
    assert (tmp_path / "fleet/pop-sin/support-agent.json").is_fifo()


def test_a_socket_is_refused(tmp_path: Path) -> None:
    (tmp_path / "fleet/pop-sin").mkdir(parents=True)
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "fleet/pop-sin/support-agent.json"))
        error = failure(POP, fetch("support-agent"), root=tmp_path)
    assert str(error) == "fleet/pop-sin/support-agent.json is a socket, not a regular file"


def test_symbolic_link_out_of_the_repo_is_refused(tmp_path: Path) -> None:
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    (repo / "fleet").mkdir(parents=True)
    outside.mkdir()
    (outside / "a.json").write_bytes(b"not ours")
    (repo / "fleet/pop-sin").symlink_to(outside, target_is_directory=True)
    assert isinstance(failure(POP, fetch("a"), root=repo), PermanentError)
    assert isinstance(failure(POP, apply("a", b"{}"), root=repo), PermanentError)
    assert (outside / "a.json").read_bytes() == b"not ours"


def _open_writer(fifo: Path) -> None:
    with contextlib.suppress(OSError):  # no reader waiting: the source did not block
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
