"""Benchmark: detection latency, from an out-of-band edit to the metric and to the alert.

A real daemon (``--interval 1s``) watches a small fleet; a file target is edited by hand at a
random instant; we time how long until ``/metrics`` says ``drifted`` and until the webhook
receives the ``drifted`` alert. Reported in daemon intervals (the floor is one interval: an
edit made just after a fetch is seen at the next one).

Run: ``.venv/bin/python -m tests.bench.bench_detection``.
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from tests.daemon.support import DaemonProcess, complete
from tests.daemon.test_daemon_e2e import _setup
from tests.servers.nginx import running_nginx
from tests.servers.webhook import running_webhook

INTERVAL = 1.0
TRIALS = 8


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-detect-") as tmp, running_webhook() as hook:
        base = Path(tmp)
        with running_nginx(base / "nginx") as nginx:
            remote = _setup(base / "fleet", nginx, webhook=hook)
            daemon = DaemonProcess(
                remote.user, "--interval", f"{INTERVAL}s", env={"TEST_WEBHOOK_URL": hook.url}
            )
            try:
                daemon.wait_until(complete, what="converged")
                doc = remote.user / "fleet" / "canary" / "support-agent.json"
                to_metric, to_alert = [], []
                for trial in range(TRIALS):
                    time.sleep(random.uniform(0, INTERVAL))  # a random instant in the cycle
                    data = json.loads(doc.read_text())
                    data["components"]["prompt/system"]["text"] = f"edited by hand {trial}\n"
                    alerts_before = len(hook.alerts())
                    edited = time.monotonic()
                    doc.write_text(json.dumps(data))
                    seen = metric = None
                    while seen is None or metric is None:
                        if metric is None:
                            _, body = daemon.get("/metrics")
                            if b'status="drifted",target="canary"} 1.0' in body:
                                metric = time.monotonic() - edited
                        if seen is None and any(
                            a.get("condition") == "drifted" and a.get("state") == "firing"
                            for a in hook.alerts()[alerts_before:]
                        ):
                            seen = time.monotonic() - edited
                        if time.monotonic() - edited > 30:
                            raise AssertionError("drift not detected within 30 s")
                        time.sleep(0.01)
                    to_metric.append(metric)
                    to_alert.append(seen)
                    _restore(doc, data)
                    daemon.wait_until(lambda s: s["summary"]["drifted"] == 0, what="restored")
            finally:
                daemon.kill()
    m, a = statistics.median(to_metric), statistics.median(to_alert)
    print(f"interval {INTERVAL:.1f} s, {TRIALS} edits at random instants:")
    print(
        f"  edit -> metric: median {m:.2f} s = {m / INTERVAL:.2f} intervals "
        f"(max {max(to_metric) / INTERVAL:.2f})"
    )
    print(
        f"  edit -> alert:  median {a:.2f} s = {a / INTERVAL:.2f} intervals "
        f"(max {max(to_alert) / INTERVAL:.2f})"
    )


def _restore(doc: Path, data: dict) -> None:
    """Undo the hand edit (the desired prompt of the fleet)."""
    data["components"]["prompt/system"]["text"] = "You help customers.\n"
    doc.write_text(json.dumps(data))


if __name__ == "__main__":
    main()
