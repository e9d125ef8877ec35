"""The daemon's Prometheus metrics: promtool-clean, the liveness contract, and no stale series."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from reconciler.audit.results import Audit, BundleResult, TargetResult
from reconciler.daemon.metrics import Metrics
from reconciler.model.inventory import Inventory
from reconciler.model.status import Status

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
BUNDLE = "support-agent"


def audit(results: dict[str, BundleResult], bundles: tuple[str, ...] = (BUNDLE,)) -> Audit:
    """An audit of production whose targets hold the given results (one bundle each)."""
    inventory = Inventory.model_validate(
        {
            "environment": "production",
            "bundles": list(bundles),
            "targets": [
                {"name": name, "kind": "region", "source": {"type": "file", "path": f"{name}.json"}}
                for name in results
            ],
        }
    )
    targets = [TargetResult(spec, [results[spec.name]]) for spec in inventory.targets]
    return Audit(
        environment="production",
        generated_at=NOW,
        desired_revision="a" * 40,
        committed_at=NOW - dt.timedelta(hours=6),
        desired={},
        targets=targets,
        findings=[],
        inventory=inventory,
    )


FLEET = {
    "us-east-1": BundleResult(BUNDLE, Status.IN_SYNC, behind=0, lag_seconds=0),
    "ap-south-1": BundleResult(BUNDLE, Status.LAGGING, behind=1, lag_seconds=21600),
    "eu-west-1": BundleResult(BUNDLE, Status.DRIFTED),
    "pop-fra": BundleResult(BUNDLE, Status.UNREACHABLE, error="connection refused"),
}


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition, parsed back by prometheus_client's own parser."""
    body, _ = metrics.render()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return samples(metrics).get((name, frozenset(labels.items())))


def observed() -> Metrics:
    metrics = Metrics("production")
    metrics.export_audit(audit(FLEET), duration=1.5, finished_at=1_795_000_000.0)
    metrics.export_rollout(
        BUNDLE, coverage=0.25, stalled=True, paused=False, wave=1, quarantined=False
    )
    metrics.count_alert("stalled", "firing")
    metrics.count_apply("ok")
    metrics.count_apply("failed")
    metrics.set_git_fetch_ok(True)
    return metrics


def test_exposition_passes_promtool(promtool: Path) -> None:
    body, content_type = observed().render()
    assert content_type.startswith("text/plain;")
    result = subprocess.run(
        [str(promtool), "check", "metrics"], input=body, capture_output=True, timeout=30
    )
    problems = (result.stdout + result.stderr).decode()
    assert result.returncode == 0, f"promtool check metrics:\n{problems}\n---\n{body.decode()}"
    assert problems.strip() == ""


def test_every_metric_has_help_text() -> None:
    body, _ = observed().render()
    families = list(text_string_to_metric_families(body.decode()))
    assert len(families) >= 14
    assert all(f.documentation for f in families), [f.name for f in families]


def test_last_audit_timestamp_is_exported_per_environment() -> None:
    body, _ = observed().render()
    line = 'reconciler_last_audit_timestamp_seconds{environment="production"} 1.795e+09'
    assert line in body.decode().splitlines()


def test_target_status_is_a_state_set() -> None:
    metrics = observed()
    for target, result in FLEET.items():
        got = {
            status.value: value(
                metrics,
                "reconciler_target_status",
                environment="production",
                target=target,
                bundle=BUNDLE,
                status=status.value,
            )
            for status in Status
        }
        assert got == {s.value: float(s is result.status) for s in Status}, target


def test_counts_coverage_skew_and_rollout() -> None:
    metrics = observed()
    env = {"environment": "production"}
    assert value(metrics, "reconciler_targets", status="in_sync", **env) == 1
    assert value(metrics, "reconciler_targets", status="missing", **env) == 0
    assert value(metrics, "reconciler_coverage_ratio", **env) == 0.25
    skew = "reconciler_skew_seconds"
    assert value(metrics, skew, target="ap-south-1", bundle=BUNDLE, **env) == 21600
    assert value(metrics, skew, target="us-east-1", bundle=BUNDLE, **env) == 0
    assert value(metrics, skew, target="eu-west-1", bundle=BUNDLE, **env) is None  # unknown
    rollout = {"bundle": BUNDLE, **env}
    assert value(metrics, "reconciler_rollout_coverage_ratio", **rollout) == 0.25
    assert value(metrics, "reconciler_rollout_stalled", **rollout) == 1
    assert value(metrics, "reconciler_rollout_paused", **rollout) == 0
    assert value(metrics, "reconciler_rollout_wave", **rollout) == 1
    assert value(metrics, "reconciler_rollout_quarantined", **rollout) == 0
    assert value(metrics, "reconciler_audit_duration_seconds_count", **env) == 1
    alerts = {"condition": "stalled", "state": "firing", **env}
    assert value(metrics, "reconciler_alerts_total", **alerts) == 1
    assert value(metrics, "reconciler_applies_total", outcome="failed", **env) == 1
    assert value(metrics, "reconciler_git_fetch_ok", **env) == 1


def test_a_target_removed_from_the_inventory_disappears() -> None:
    metrics = observed()
    remaining = {k: v for k, v in FLEET.items() if k != "ap-south-1"}
    metrics.export_audit(audit(remaining), duration=1.0, finished_at=1_795_000_030.0)
    exported = samples(metrics)
    targets = {dict(labels).get("target") for _, labels in exported}
    assert "ap-south-1" not in targets
    assert {"us-east-1", "eu-west-1", "pop-fra"} <= targets
    assert value(metrics, "reconciler_last_audit_timestamp_seconds", environment="production") == (
        1_795_000_030.0
    )


def test_a_bundle_removed_from_the_inventory_drops_its_rollout() -> None:
    metrics = observed()
    metrics.export_audit(audit(FLEET, bundles=("other",)), duration=1.0, finished_at=1.0)
    assert not [name for name, _ in samples(metrics) if name.startswith("reconciler_rollout_")]


def test_registries_are_private() -> None:
    one, two = Metrics("production"), Metrics("staging")
    one.set_git_fetch_ok(False)
    assert value(two, "reconciler_git_fetch_ok", environment="production") is None
    assert value(one, "reconciler_git_fetch_ok", environment="production") == 0
