"""Status words travel as their enums, never as bare strings (issue 20).

An AST pass over ``reconciler/``: every field, property or parameter annotated with one of the
package's enums (``phase: Phase``, ``conditions: dict[ConditionType, Condition]``...) is
enum-valued; comparing one to a string literal that spells a member of its enum
(``r.phase == "paused"``, ``r.conditions.get("Ready")``, ``finding.code != "breaking"``) is the
bug this test catches. A literal that is no member's value (``spec.type == "webhook"``) is a
legitimate string comparison and passes, so the test has no false positives by construction.
"""

from __future__ import annotations

import ast
import functools
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"
ENUM_BASES = {"Enum", "StrEnum", "IntEnum"}
#: Mapping methods whose first argument is a key.
KEYED = {"get", "pop", "setdefault"}


@dataclass(frozen=True)
class Vocabulary:
    members: dict[str, frozenset[str]]  #: enum class -> its members' string values
    valued: dict[str, set[str]]  #: field/parameter name -> enums it holds
    keyed: dict[str, set[str]]  #: field name -> enums that key the mapping it holds


@functools.cache
def _trees() -> tuple[tuple[Path, ast.Module], ...]:
    return tuple(
        (path, ast.parse(path.read_text(), str(path))) for path in sorted(PACKAGE.rglob("*.py"))
    )


def _enums(trees: tuple[tuple[Path, ast.Module], ...]) -> dict[str, frozenset[str]]:
    found: dict[str, frozenset[str]] = {}
    for _, tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            if not {b.id for b in node.bases if isinstance(b, ast.Name)} & ENUM_BASES:
                continue
            values = set()
            for item in node.body:
                value = item.value if isinstance(item, ast.Assign) else None
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    values.add(value.value)
            found[node.name] = frozenset(values)
    return found


def _names(annotation: ast.expr | None) -> tuple[set[str], set[str]]:
    """(enums the annotated value is, enums that key it when it is a mapping)."""
    if annotation is None:
        return set(), set()
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        annotation = ast.parse(annotation.value, mode="eval").body
    if isinstance(annotation, ast.Name):
        return {annotation.id}, set()
    if isinstance(annotation, ast.Attribute):
        return {annotation.attr}, set()
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        left, right = _names(annotation.left), _names(annotation.right)
        return left[0] | right[0], left[1] | right[1]
    if isinstance(annotation, ast.Subscript):
        base = annotation.value
        name = base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")
        args = annotation.slice
        if name in {"dict", "Mapping", "MutableMapping"} and isinstance(args, ast.Tuple):
            return set(), _names(args.elts[0])[0]
        if name == "Optional":
            return _names(args)
    return set(), set()


@functools.cache
def vocabulary() -> Vocabulary:
    trees = _trees()
    members = _enums(trees)
    valued: dict[str, set[str]] = defaultdict(set)
    keyed: dict[str, set[str]] = defaultdict(set)

    def note(name: str, annotation: ast.expr | None) -> None:
        value, key = _names(annotation)
        valued[name] |= value & members.keys()
        keyed[name] |= key & members.keys()

    for _, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        note(item.target.id, item.annotation)
                    elif isinstance(item, ast.FunctionDef) and any(
                        isinstance(d, ast.Name) and d.id == "property" for d in item.decorator_list
                    ):
                        note(item.name, item.returns)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Attribute):
                note(node.target.attr, node.annotation)  # self.x: Role = ...
            elif isinstance(node, ast.arg):
                note(node.arg, node.annotation)
    return Vocabulary(
        members,
        {k: v for k, v in valued.items() if v},
        {k: v for k, v in keyed.items() if v},
    )


def _field(node: ast.expr) -> str | None:
    """The field an expression reads: ``x.phase``, ``phase``, ``d["phase"]``, ``d.get("phase")``."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return node.slice.value if isinstance(node.slice.value, str) else None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return node.args[0].value
    return None


def _literals(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [s for e in node.elts for s in _literals(e)]
    return []


def _spells(vocab: Vocabulary, enums: set[str], literals: list[str]) -> list[str]:
    return [s for s in literals if any(s in vocab.members[e] for e in enums)]


def offences(tree: ast.AST, vocab: Vocabulary) -> list[tuple[int, str]]:
    """(line, what) for every enum-valued field compared with a literal spelling a member."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for op, left, right in zip(node.ops, operands[:-1], operands[1:], strict=True):
                member = isinstance(op, ast.In | ast.NotIn)
                pairs = [(left, right)] if member else [(left, right), (right, left)]
                for field, other in pairs:
                    name = _field(field)
                    hit = _spells(vocab, vocab.valued.get(name or "", set()), _literals(other))
                    if hit:
                        found.append((node.lineno, f"{name} compared with {hit[0]!r}"))
                if member and isinstance(right, ast.Attribute):
                    enums = vocab.keyed.get(right.attr, set())
                    hit = _spells(vocab, enums, _literals(left))
                    if hit:
                        found.append((node.lineno, f"{hit[0]!r} looked up in {right.attr}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if node.func.attr in KEYED and isinstance(owner, ast.Attribute) and node.args:
                hit = _spells(vocab, vocab.keyed.get(owner.attr, set()), _literals(node.args[0]))
                if hit:
                    found.append((node.lineno, f"{owner.attr}.{node.func.attr}({hit[0]!r})"))
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute):
            hit = _spells(vocab, vocab.keyed.get(node.value.attr, set()), _literals(node.slice))
            if hit:
                found.append((node.lineno, f"{node.value.attr}[{hit[0]!r}]"))
    return found


def test_no_enum_valued_field_is_compared_with_a_string_literal() -> None:
    vocab = vocabulary()
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {what}"
        for path, tree in _trees()
        for line, what in offences(tree, vocab)
    ]
    assert found == []


def test_the_vocabulary_knows_the_status_words() -> None:
    vocab = vocabulary()
    assert {"Status", "Phase", "ConditionType", "Reason", "FindingCode", "Level"} <= set(
        vocab.members
    )
    assert {"AlertCondition", "FailureKind", "Role"} <= set(vocab.members)
    assert "Phase" in vocab.valued["phase"] and "Status" in vocab.valued["status"]
    assert "FindingCode" in vocab.valued["code"] and "Level" in vocab.valued["level"]
    assert "AlertCondition" in vocab.valued["condition"]
    assert "FailureKind" in vocab.valued["failure"] and "Role" in vocab.valued["role"]
    assert "ConditionType" in vocab.keyed["conditions"]


BAD = [
    'r.phase == "paused"',
    'r.conditions.get("Ready")',
    'finding.code != "breaking"',
    'finding.level == "error"',
    '"Stalled" in rollout.conditions',
    'r.conditions["Stalled"]',
    't.failure == "permanent"',
    'runner.role == "leader"',
    'b.status in ("in_sync", "lagging")',
    '"drifted" == b.status',
    'a["condition"] == "unverified"',
    'd.get("type") in ("Stalled", "Quarantined")',
]
GOOD = [
    'spec.type == "webhook"',  # an alert's type: no enum spells it
    "r.phase is Phase.PAUSED",
    "r.conditions.get(ConditionType.READY)",
    "response.status == 200",
    'event.get("kind") == "command"',
    'query.get("order") == "desc"',
    'self.word in ("PAUSED", "WAITING")',  # display words, not enum values
    'name in ("paused", "resumed")',  # a plain name annotated as nothing
]


@pytest.mark.parametrize("source", BAD)
def test_a_literal_comparison_is_caught(source: str) -> None:
    assert offences(ast.parse(source), vocabulary()), source


@pytest.mark.parametrize("source", GOOD)
def test_a_legitimate_string_comparison_passes(source: str) -> None:
    assert offences(ast.parse(source), vocabulary()) == [], source
