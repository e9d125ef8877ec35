"""Run a test in a forked child, so scipy and numpy (~90 MiB) never enter the pytest process.

Why: Linux carries a process's peak RSS across exec into the child's ``ru_maxrss``, so every
CLI a later test spawns reports at least the pytest process's own peak (tests/corpus checks the
CLI's peak RSS that way). A test that loads scipy in-process would raise it for all of them.
"""

from __future__ import annotations

import functools
import multiprocessing
import traceback
from collections.abc import Callable
from typing import Any

import pytest


def in_child(test: Callable[..., None]) -> Callable[..., None]:
    """``test`` runs in a forked child; its failure (the traceback) fails the test here."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        context = multiprocessing.get_context("fork")
        receive, send = context.Pipe(duplex=False)

        def body() -> None:
            try:
                test(*args, **kwargs)
                send.send("")
            except BaseException:
                send.send(traceback.format_exc())

        child = context.Process(target=body)
        child.start()
        send.close()
        try:
            outcome = receive.recv()
        except EOFError:
            outcome = "the test's child process died without a result"
        child.join()
        if outcome:
            pytest.fail(outcome, pytrace=False)

    return run
