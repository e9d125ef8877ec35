"""The one place the reconciler runs git: each command a process, and one long-lived
``git cat-file --batch`` per repository for object reads.

Everything else asks through :func:`git` (or :class:`~reconciler.bundle.gitrepo.GitRepo`), so
how git is started (its session, its timeout, a missing binary) is decided once; a test keeps
``subprocess`` git calls out of every other module.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Literal, overload

from ...errors import ReconcilerError

SHA = re.compile(r"[0-9a-f]{40}")
#: Exit status of a git command stopped at its timeout (as coreutils' ``timeout`` says it).
TIMED_OUT = 124


class GitMissing(ReconcilerError):
    """No ``git`` on PATH."""


@overload
def git(
    path: Path,
    *args: str,
    input: str | None = ...,
    env: Mapping[str, str] | None = ...,
    timeout: float | None = ...,
    text: Literal[True],
    new_session: bool = ...,
) -> subprocess.CompletedProcess[str]: ...


@overload
def git(
    path: Path,
    *args: str,
    input: bytes | None = ...,
    env: Mapping[str, str] | None = ...,
    timeout: float | None = ...,
    text: Literal[False] = ...,
    new_session: bool = ...,
) -> subprocess.CompletedProcess[bytes]: ...


def git(
    path: Path,
    *args: str,
    input: str | bytes | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    text: bool = False,
    new_session: bool = False,
) -> subprocess.CompletedProcess[str] | subprocess.CompletedProcess[bytes]:
    """Run ``git -C path args...`` and return what it did (never raises on its exit status).

    A command past ``timeout`` seconds comes back with status :data:`TIMED_OUT` and says so on
    stderr; ``new_session`` keeps it out of our process group (a SIGTERM to the daemon must not
    kill git mid-step). No git on PATH is :class:`GitMissing`.
    """
    command = ["git", "-C", str(path), *args]
    try:
        return subprocess.run(
            command,
            input=input,
            capture_output=True,
            text=text,
            env=None if env is None else dict(env),
            timeout=timeout,
            check=False,
            start_new_session=new_session,
        )
    except subprocess.TimeoutExpired:
        said = f"git {args[0] if args else ''} took over {timeout:.0f}s"
        if text:
            return subprocess.CompletedProcess(command, TIMED_OUT, "", said)
        return subprocess.CompletedProcess(command, TIMED_OUT, b"", said.encode())
    except FileNotFoundError:
        raise GitMissing("git is not installed (or not on PATH)") from None


def stream(path: Path, *args: str) -> Output:
    """The output of one git command as it comes, chunk by chunk (so its reader works while git
    still does); ReconcilerError at the end when git failed. Git starts at once, before the
    first chunk is asked for (the caller may do other work meanwhile): close what is not read
    to the end (``contextlib.closing``)."""
    try:
        proc = subprocess.Popen(
            ["git", "-C", str(path), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except FileNotFoundError:
        raise GitMissing("git is not installed (or not on PATH)") from None
    return Output(proc, args[0] if args else "")


class Output(Iterator[bytes]):
    """A running git command's output (:func:`stream`)."""

    def __init__(self, proc: subprocess.Popen[bytes], command: str) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        self.proc = proc
        self.command = command
        self._out = proc.stdout.fileno()

    def __next__(self) -> bytes:
        chunk = os.read(self._out, 1 << 16)
        if chunk:
            return chunk
        assert self.proc.stderr is not None
        said = self.proc.stderr.read().decode("utf-8", "replace").strip().splitlines()
        code = self.proc.wait()
        self.close()
        if code != 0:
            raise ReconcilerError(f"git {self.command} failed: {said[-1] if said else code}")
        raise StopIteration

    def close(self) -> None:
        """Stop git if it still runs, and let its pipes go."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.__exit__(None, None, None)  # closes the pipes, waits for the process


def cat_batch(path: Path, ids: Sequence[str]) -> dict[str, bytes]:
    """The contents of many objects from one ``git cat-file --batch`` process."""
    if not ids:
        return {}
    proc = git(path, "cat-file", "--batch", input="\n".join(ids).encode() + b"\n")
    if proc.returncode != 0:
        raise ReconcilerError(f"git cat-file failed in {path}")
    out = proc.stdout
    found: dict[str, bytes] = {}
    pos = 0
    while pos < len(out):
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) != 3:  # "<id> missing"
            continue
        size = int(header[2])
        found[header[0].decode()] = out[pos : pos + size]
        pos += size + 1
    return found


def batch_check_specs(path: Path, specs: Sequence[str]) -> list[str]:
    """``git cat-file --batch-check``'s answer line for each ``rev:path`` spec."""
    proc = git(path, "cat-file", "--batch-check", input="\n".join(specs) + "\n", text=True)
    if proc.returncode != 0:
        raise ReconcilerError(f"git cat-file --batch-check failed in {path}")
    return proc.stdout.splitlines()


#: Object ids asked of the long-lived cat-file at once (41 bytes each: well within a pipe).
CHUNK = 512


class Objects:
    """One ``git cat-file --batch`` process, started at the first read, serving object ids.

    Only full object ids are asked (never a name that moves: a long-lived process may keep
    seeing an old ``HEAD``). One read at a time; safe to share between threads.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        #: The running process has answered nothing yet: it has read no ref (none can be stale).
        self._fresh = False

    def get(self, oid: str) -> tuple[str, bytes] | None:
        """``(type, contents)`` of object ``oid`` (40 hex digits), None when it is missing."""
        if not SHA.fullmatch(oid):
            return None
        with self._lock:
            stdin, stdout = self._pipes()
            self._fresh = False
            try:
                stdin.write(oid.encode("ascii") + b"\n")
                stdin.flush()
                header = stdout.readline().split()
                if len(header) != 3:  # "<id> missing"
                    return None
                size = int(header[2])
                data = stdout.read(size + 1)[:size]
            except (OSError, ValueError):
                self._stop()
                raise ReconcilerError(f"git cat-file stopped answering in {self.path}") from None
            return header[1].decode("ascii"), data

    def named(self, name: str) -> tuple[str, bytes] | None:
        """The commit ``name`` (a branch, ``HEAD``...) names and its contents, when a process
        that has resolved no name yet knows it; else None, and ``git rev-parse`` says (git keeps
        the refs it read (even to read an object: replace refs), and a ref file rewritten within
        the same second may look unchanged; an error names the revision). Saves starting
        ``rev-parse`` once: a cold audit's ``HEAD``."""
        with self._lock:
            stdin, stdout = self._pipes()
            if not self._fresh:
                return None
            self._fresh = False
            try:
                stdin.write(f"{name}^{{commit}}\n".encode())
                stdin.flush()
                header = stdout.readline().split()
                if len(header) != 3 or header[1] != b"commit":  # missing, ambiguous
                    return None
                size = int(header[2])
                data = stdout.read(size + 1)[:size]
            except (OSError, ValueError, UnicodeError):
                self._stop()
                raise ReconcilerError(f"git cat-file stopped answering in {self.path}") from None
            oid = header[0].decode("ascii")
            return (oid, data) if SHA.fullmatch(oid) else None

    def get_many(self, oids: list[str]) -> dict[str, bytes]:
        """The contents of many objects (40 hex digits each; the missing ones left out), asked
        :data:`CHUNK` at a time: a chunk's questions fit the pipe, so writing never waits on
        git, which never waits on us to read."""
        found: dict[str, bytes] = {}
        oids = [oid for oid in oids if SHA.fullmatch(oid)]
        with self._lock:
            for start in range(0, len(oids), CHUNK):
                stdin, stdout = self._pipes()
                self._fresh = False
                try:
                    stdin.write("".join(f"{oid}\n" for oid in oids[start : start + CHUNK]).encode())
                    stdin.flush()
                    for _ in oids[start : start + CHUNK]:
                        header = stdout.readline().split()
                        if len(header) == 3:  # else "<id> missing"
                            size = int(header[2])
                            found[header[0].decode("ascii")] = stdout.read(size + 1)[:size]
                except (OSError, ValueError):
                    self._stop()
                    raise ReconcilerError(
                        f"git cat-file stopped answering in {self.path}"
                    ) from None
        return found

    def start(self) -> None:
        """Start the process now (it answers sooner when first asked)."""
        with self._lock:
            self._pipes()

    def feed(self, found: dict[str, bytes]) -> Feed:
        """Ask for objects as their ids turn up (:meth:`Feed.ask`) while a thread puts each
        answer into ``found``; the process is this feed's until :meth:`Feed.close`."""
        self._lock.acquire()
        try:
            pipes = self._pipes()
            self._fresh = False
            return Feed(self, *pipes, found)
        except BaseException:
            self._lock.release()
            raise

    def _pipes(self) -> tuple[IO[bytes], IO[bytes]]:
        if self._proc is None or self._proc.poll() is not None:
            self._fresh = True
            try:
                self._proc = subprocess.Popen(
                    ["git", "-C", str(self.path), "cat-file", "--batch"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
            except FileNotFoundError:
                raise GitMissing("git is not installed (or not on PATH)") from None
        assert self._proc.stdin is not None and self._proc.stdout is not None
        return self._proc.stdin, self._proc.stdout

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


#: Seconds a feed waits for git's last answers before it stops git (a hung git).
FEED_WAIT = 60.0
#: Asked last of a feed: no object has this id, so its "missing" answer ends the reading.
_END = "0" * 40


class Feed:
    """Questions to the long-lived ``git cat-file --batch`` written as they come, answers read
    by a thread meanwhile (neither side waits on the other's pipe): git reads objects on the
    other core while the caller still works out what to ask."""

    def __init__(
        self, objects: Objects, stdin: IO[bytes], stdout: IO[bytes], found: dict[str, bytes]
    ) -> None:
        self.objects = objects
        self.stdin = stdin
        self.found = found
        self.failed = False
        self.received = 0  #: bytes of the objects read so far
        self._reader = threading.Thread(target=self._read, args=(stdout,), daemon=True)
        self._reader.start()

    def ask(self, oids: Sequence[str]) -> None:
        if self.failed or not oids:
            return
        try:
            asked = [oid for oid in oids if SHA.fullmatch(oid) and oid != _END]
            self.stdin.write("".join(f"{oid}\n" for oid in asked).encode())
            self.stdin.flush()
        except OSError:
            self.failed = True

    def _read(self, stdout: IO[bytes]) -> None:
        found = self.found
        try:
            while True:
                header = stdout.readline().split()
                if len(header) == 3:
                    size = int(header[2])
                    found[header[0].decode("ascii")] = stdout.read(size + 1)[:size]
                    self.received += size
                elif not header:  # git stopped
                    self.failed = True
                    return
                elif header[0].decode("ascii") == _END:
                    return
        except (OSError, ValueError):
            self.failed = True

    def close(self) -> None:
        """Wait for every answer; the process is free again (stopped when it failed: the next
        read starts another, so a failed feed only leaves objects to read one by one)."""
        try:
            if not self.failed:
                try:
                    self.stdin.write(f"{_END}\n".encode())
                    self.stdin.flush()
                except OSError:
                    self.failed = True
            if self.failed:
                self.objects._kill()  # the reader then reads the end of its pipe
            self._reader.join(FEED_WAIT)
            if self._reader.is_alive():  # git hangs: stop it, and the reader with it
                self.failed = True
                self.objects._kill()
                self._reader.join()
            if self.failed:
                self.objects._stop()
        finally:
            self.objects._lock.release()
