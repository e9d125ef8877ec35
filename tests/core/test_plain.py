"""The plain inventory (reconciler.model.plain) stays in step with the pydantic model.

A command that only reads an inventory reads the cached validated JSON into plain objects
instead of the model (no pydantic before the audit's first request). These tests fail when the
model gains what the plain reading does not know: a mapping field, a date, an alias, a model
with methods; and they check every value and every method against the model itself.
"""

from __future__ import annotations

import datetime as dt
import inspect
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from reconciler.config.inventory import load_inventory
from reconciler.model import inventory as model
from reconciler.model import plain

INVENTORY = """\
environment: production
bundles: [support-agent, billing-agent]
targets:
  - name: us-east-1
    kind: region
    source: {type: http, url: 'https://cfg.example/{bundle}.json', headers: {X-Key: k}}
    health: {url: 'https://cfg.example/healthz', gate: advisory}
    probe: {url: 'https://proc.example/{bundle}.json', timeout: 2s}
    group: us
    outputs: {url: 'https://proc.example/outputs', sample: 20}
  - name: pop-sin
    kind: pop
    carries: ['prompt/*', 'tool/*']
    source: {type: file, path: 'fleet/pop-sin/{bundle}.json'}
  - name: registry
    kind: prompt-registry
    source: {type: mlflow, url: 'https://mlflow.example', alias: prod}
    group: us
  - name: flags
    kind: flag-platform
    source: {type: unleash, url: 'https://unleash.example', environment: production, token: t}
  - name: eu-west-1
    source: {type: s3, bucket: agents, key: '{bundle}.json', region: eu-west-1}
ignore:
  - {targets: ['pop-*'], components: ['prompt/*'], paths: [text], reason: cdn, owner: web,
     expires: 2027-03-01}
  - {paths: [model.params.temperature], reason: tuning, owner: ml}
rollout:
  waves:
    - {name: canary, targets: [us-east-1], bake: 10m}
    - {name: pops, targets: ['pop-*'], bake: 1h}
    - {name: rest, targets: ['*']}
  progress_deadline: 20m
  health: {successes: 2, failures: 3}
  on_stall: rollback
  self_heal: true
  require_eval: true
  analysis:
    - {name: errors, query: 'rate(errors[5m])', max: 0.02, for: 5m, targets: ['us-*']}
    - {name: quality, query: 'score', min: 0.9, max: 1.0}
  canary:
    release_flag: {target: flags}
    steps: [1%, 5%, 25%]
    bake: 10m
    judge:
      by: segment
      interval: 30s
      metrics:
        - {name: refusals, test: proportion, numerator: 'sum by (digest, segment) (r)',
           denominator: 'sum by (digest, segment) (q)', tolerance: 5%}
        - {name: latency, test: mann-whitney, query: 'max by (digest, segment) (l)',
           critical: false}
alerts:
  - {type: webhook, url: 'https://hooks.example/${HOOK}'}
verify: {allowed_signers: .signers}
analysis: {prometheus: {url: 'http://prom.example:9090'}}
promotion: {from: staging, soak: 2h}
windows:
  timezone: Europe/Berlin
  allow: [{rrule: 'FREQ=WEEKLY;BYDAY=MO', start: '09:00', duration: 8h}]
  deny: [{from: '2026-12-20T00:00', to: '2027-01-04T00:00', reason: holiday freeze}]
  rollback: in_window
  max_wait: 3d
"""

KEYS = ["model", "prompt/system", "tool/lookup", "flag/new_ui", "guardrail/toxicity", "other"]


@pytest.fixture
def both(tmp_path: Path) -> tuple[model.Inventory, Any]:
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "production.yaml").write_text(INVENTORY)
    cache = tmp_path / "cache"
    validated = load_inventory(tmp_path, "production", cache)
    first = load_inventory(tmp_path, "production", cache, plain=True)  # from the cache
    assert list(cache.glob("*.json"))
    for entry in cache.glob("*.json"):
        entry.unlink()
    again = load_inventory(tmp_path, "production", cache, plain=True)  # validated, then cached
    assert first == again
    return validated, again


def _models(root: type[BaseModel]) -> set[type[BaseModel]]:
    """Every model class reachable from ``root``'s fields."""
    found: set[type[BaseModel]] = set()
    todo = [root]
    while todo:
        cls = todo.pop()
        if cls in found:
            continue
        found.add(cls)
        for info in cls.model_fields.values():
            todo += [t for t in _leaves(info.annotation) if _is_model(t)]
    return found


def _leaves(annotation: Any) -> list[Any]:
    args = typing.get_args(annotation)
    if not args or typing.get_origin(annotation) is typing.Literal:
        return [annotation]
    if typing.get_origin(annotation) is typing.Annotated:
        return _leaves(args[0])
    return [leaf for arg in args for leaf in _leaves(arg)] + [typing.get_origin(annotation)]


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def test_every_mapping_date_and_alias_of_the_model_is_known() -> None:
    mappings, dates, aliases = set(), set(), {}
    for cls in _models(model.Inventory):
        for name, info in cls.model_fields.items():
            leaves = _leaves(info.annotation)
            if dict in leaves or typing.get_origin(info.annotation) is dict:
                mappings.add(name)
            if dt.date in leaves:
                dates.add(name)
            if info.alias is not None and info.alias != name:
                aliases[info.alias] = name
    assert mappings <= plain.MAPPINGS
    assert dates <= plain.DATES
    assert aliases == dict(plain.ALIASES)


def test_every_model_with_methods_has_a_plain_class_with_them() -> None:
    plain_of: dict[str, type[plain.Plain]] = {
        kind.model: kind for kind in vars(plain).values()
        if isinstance(kind, type) and issubclass(kind, plain.Plain)
    }  # fmt: skip
    for cls in _models(model.Inventory):
        methods = {  # its own and those of its mixins (reconciler.model.methods), not pydantic's
            name
            for base in cls.__mro__
            if base.__module__.startswith("reconciler.")
            for name, value in vars(base).items()
            if not name.startswith("_") and isinstance(value, types.FunctionType)
        }
        if not methods:
            continue
        assert cls.__name__ in plain_of, f"{cls.__name__} has methods but no plain class"
        kind = plain_of[cls.__name__]
        assert methods <= set(dir(kind)), f"{kind.__name__} lacks {methods - set(dir(kind))}"
        for name in methods:
            theirs = inspect.signature(getattr(cls, name))
            ours = inspect.signature(getattr(kind, name))
            assert list(theirs.parameters) == list(ours.parameters), (cls.__name__, name)


def _same(validated: Any, read: Any, where: str) -> None:
    if isinstance(validated, BaseModel):
        assert isinstance(read, plain.Plain), where
        fields = type(validated).model_fields
        assert set(fields) == set(vars(read)), where
        for name in fields:
            _same(getattr(validated, name), getattr(read, name), f"{where}.{name}")
    elif isinstance(validated, list):
        assert isinstance(read, list) and len(read) == len(validated), where
        for index, (a, b) in enumerate(zip(validated, read, strict=True)):
            _same(a, b, f"{where}[{index}]")
    else:
        assert type(read) is type(validated) and read == validated, where


def test_every_value_reads_as_the_model_holds_it(both: tuple[model.Inventory, Any]) -> None:
    validated, read = both
    _same(validated, read, "inventory")


def test_every_method_answers_as_the_model_does(both: tuple[model.Inventory, Any]) -> None:
    validated, read = both
    names = [t.name for t in validated.targets] + ["pop-lhr", "us-west-2", "unknown"]
    for ours, theirs in zip(read.targets, validated.targets, strict=True):
        assert ours.carries_signature() == theirs.carries_signature()
        for key in KEYS:
            assert ours.carries_component(key) == theirs.carries_component(key), (ours.name, key)
        if theirs.probe is not None:
            source = theirs.probe.as_source()
            assert vars(ours.probe.as_source()) == source.model_dump(), ours.name
    for target in names:
        assert read.rollout.wave_index(target) == validated.rollout.wave_index(target)
        assert read.rollout.stall_after(target) == validated.rollout.stall_after(target)
        for ours, theirs in zip(read.rollout.analysis, validated.rollout.analysis, strict=True):
            assert ours.reads(target) == theirs.reads(target)
            assert ours.bounds() == theirs.bounds()
        for ours, theirs in zip(read.ignore, validated.ignore, strict=True):
            assert ours.names_target(target) == theirs.names_target(target)
            for key in KEYS:
                assert ours.matches(target, key) == theirs.matches(target, key)
    for day in (dt.date(2027, 3, 1), dt.date(2027, 3, 2)):
        for ours, theirs in zip(read.ignore, validated.ignore, strict=True):
            assert ours.expired(day) == theirs.expired(day)
    copied = read.targets[0].model_copy(update={"health": None})
    assert copied.health is None and copied.name == read.targets[0].name
    assert read.targets[0].health is not None


def test_reading_a_cached_inventory_imports_no_pydantic(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "production.yaml").write_text(INVENTORY)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from reconciler.config.inventory import load_inventory\n"
        f"root = Path({str(tmp_path)!r})\n"
        "inv = load_inventory(root, 'production', root / 'cache', plain=True)\n"
        "print(sorted(m for m in ('pydantic', 'ruamel') if m in sys.modules))\n"
    )
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "['pydantic', 'ruamel']"  # validated once
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert second.stdout.strip() == "[]", second.stdout + second.stderr
