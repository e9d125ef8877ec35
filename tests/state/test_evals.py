"""Eval records in the state store (issue 13, item 3), on SQLite and PostgreSQL alike: the newest
record of exactly one digest decides, and writing one is a fenced state write."""

from __future__ import annotations

import pytest

from reconciler.rollout import evals
from reconciler.rollout.writer import CHECK_EVERY, Writer
from reconciler.state import Deposed, EvalRecord

from .conftest import Opener

D47 = "sha256:" + "47" * 32
D48 = "sha256:" + "48" * 32


def test_the_newest_record_of_exactly_that_digest_decides(backend: tuple[str, Opener]) -> None:
    store = backend[1]()
    assert evals.latest(store, "production", D48) is None
    waiting = evals.awaiting(store, "production", D48)
    assert waiting == (
        f"awaiting a passing eval (rollout.require_eval): no eval of {D48}; record one with "
        f"`reconciler eval record --env production --digest {D48} --result passed`"
    )
    evals.record(store, "production", D47, "passed", by="ci", at=100.0)
    evals.record(store, "staging", D48, "passed", by="ci", at=100.0)
    assert evals.awaiting(store, "production", D48) == waiting  # another digest, another env

    evals.record(store, "production", D48, "failed", by="ci", at=200.0, report="https://e/1")
    assert "the newest eval of" in evals.awaiting(store, "production", D48)
    assert "failed (by ci at 1970-01-01 00:03 UTC, report https://e/1)" in evals.awaiting(
        store, "production", D48
    )
    evals.record(store, "production", D48, "passed", by="ci", at=300.0)
    assert evals.awaiting(store, "production", D48) == ""
    again = backend[1]()  # another connection reads the same
    assert evals.latest(again, "production", D48) == EvalRecord(
        "production", D48, "passed", 300.0, "ci", None
    )
    evals.record(store, "production", D48, "failed", by="ci", at=400.0)  # a re-run failed
    assert evals.awaiting(store, "production", D48) != ""


def test_a_record_preempts_the_writer_of_its_environment(backend: tuple[str, Opener]) -> None:
    clock = [0.0]
    converge = Writer(backend[1](), "production", "converge by alice", monotonic=lambda: clock[0])
    converge.take()
    evals.record(backend[1](), "production", D48, "passed", by="bob", at=1.0)
    clock[0] += CHECK_EVERY
    with pytest.raises(Deposed):
        converge.check()  # the converge writes nothing more, like after `rollout pause`
    assert evals.latest(backend[1](), "production", D48) is not None


def test_an_eval_write_is_fenced_by_the_lease(backend: tuple[str, Opener]) -> None:
    store = backend[1]()
    stale = Writer(store, "production", "eval record by bob").take()
    Writer(backend[1](), "production", "rollback by carol").take(preempt=True)
    store.fence(stale)  # this connection still believes it holds the lease
    with pytest.raises(Deposed):
        store.record_eval(EvalRecord("production", D48, "passed", 1.0, "bob"))
    assert evals.latest(backend[1](), "production", D48) is None


@pytest.mark.parametrize("digest", ["sha256:abc", "47" * 32, "sha256:" + "G" * 64])
def test_only_a_bundle_digest_is_recorded(backend: tuple[str, Opener], digest: str) -> None:
    with pytest.raises(ValueError, match="is not a bundle digest"):
        evals.record(backend[1](), "production", digest, "passed", by="ci", at=1.0)
