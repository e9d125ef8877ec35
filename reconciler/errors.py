"""The tool's own error family: every failure the CLI reports is one line, never a traceback."""

from __future__ import annotations


class ReconcilerError(Exception):
    """A failure the user can act on; ``str()`` is the one-line message the CLI prints."""


class ConfigError(ReconcilerError):
    """A bundle or inventory file is wrong; the message names the file and, when known, the line."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.file = file
        self.line = line
        self.detail = message
        where = file if file else ""
        if file and line:
            where = f"{file}:{line}"
        super().__init__(f"{where}: {message}" if where else message)


class RevisionError(ReconcilerError):
    """A git revision could not be resolved, or the repository is not a git repository."""
