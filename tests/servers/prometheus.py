"""A real Prometheus server (Debian's /usr/bin/prometheus 2.42) scraping targets a test names.

Started on 127.0.0.1 and a free port with a generated config (``scrape_interval`` and
``evaluation_interval`` 1 s), its TSDB in a temp folder, and ``--web.enable-lifecycle`` so that
:meth:`Prometheus.set_targets` can rewrite the config and reload it (``POST /-/reload``) without
a restart. Queries go through the HTTP API with the stdlib only.

The simplest use in a session: one Prometheus scrapes one exporter (tests/servers/exporter.py),
both session fixtures (``prometheus`` and ``exporter`` in tests/conftest.py), and each test sets
the gauges it needs under label values of its own (``target="canary-<test>"``), so tests never
see each other's series. A changed value is seen within ~1-2 s (the next scrape). A test that
needs another target calls ``prometheus.add_target(...)`` (which waits ~5-10 s: Prometheus 2.42
applies new target lists every 5 s only) and should ``remove_target`` it afterwards.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from tests.servers.process import free_port, log_tail, stop_group

PROMETHEUS = Path("/usr/bin/prometheus")
READY_WITHIN = 30.0  # seconds; ~0.1-0.3 s on an idle machine
#: Prometheus 2.42 applies a new target list only every 5 s (discovery, then the scrape manager,
#: neither configurable): a target is first scraped ~5.5 s after start, up to ~10 s after reload.
SCRAPED_WITHIN = 30.0
INTERVAL = "1s"
JOB = "test"
INSTALL = "install Debian's prometheus package (tests/servers/install.sh)"

Result = list[dict[str, Any]]


class PrometheusUnavailable(RuntimeError):
    """Prometheus is not installed, or did not start; the message says what to do."""


class QueryError(RuntimeError):
    """Prometheus refused a query (bad PromQL, ...): its errorType and error."""


def config(targets: Iterable[str], interval: str = INTERVAL) -> str:
    """The prometheus.yml: one job scraping ``targets`` (``host:port``, path /metrics)."""
    # JSON is YAML: no YAML library needed, and every target string is quoted correctly.
    document = {
        "global": {
            "scrape_interval": interval,
            "scrape_timeout": interval,
            "evaluation_interval": interval,
        },
        "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": list(targets)}]}],
    }
    return json.dumps(document, indent=2) + "\n"


class Prometheus:
    """A Prometheus at ``url`` scraping ``targets``; stop and start it again on the same port."""

    def __init__(self, home: Path, targets: Iterable[str], port: int | None = None) -> None:
        self.home = home
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.targets: list[str] = list(dict.fromkeys(targets))
        self.log = home / "prometheus.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._write_config()

    @property
    def config_file(self) -> Path:
        return self.home / "prometheus.yml"

    def _write_config(self) -> None:
        self.config_file.write_text(config(self.targets))

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start (again): same port, same config, same TSDB. No-op when it runs."""
        if self.process is not None and self.process.poll() is None:
            return
        command = [
            str(PROMETHEUS),
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={self.home / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=1d",
            "--log.level=warn",
        ]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + READY_WITHIN
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PrometheusUnavailable(f"prometheus exited at start:\n{log_tail(self.log)}")
            with suppress(OSError), urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as r:
                if r.status == 200:
                    return
            time.sleep(0.05)
        self.stop()
        late = f"prometheus not ready within {READY_WITHIN:g} s"
        raise PrometheusUnavailable(f"{late}:\n{log_tail(self.log)}")

    def stop(self) -> None:
        """Stop it (SIGTERM, it flushes its head block); its TSDB stays for :meth:`start`."""
        if self.process is not None:
            stop_group(self.process)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # -- targets ----------------------------------------------------------------------------

    def set_targets(self, targets: Iterable[str], wait: float = SCRAPED_WITHIN) -> None:
        """Scrape exactly ``targets`` from now on (config rewritten, then ``POST /-/reload``);
        wait up to ``wait`` seconds until each was scraped (0: don't wait). Prometheus 2.42 takes
        ~5-10 s to apply a new target list (fixed 5 s throttles in discovery and scraping)."""
        self.targets = list(dict.fromkeys(targets))
        self._write_config()
        if self.alive():
            request = urllib.request.Request(f"{self.url}/-/reload", method="POST")
            try:
                with urllib.request.urlopen(request, timeout=10):
                    pass
            except urllib.error.HTTPError as exc:
                raise PrometheusUnavailable(
                    f"reload refused: {exc.read().decode(errors='replace')}"
                ) from None
            if wait:
                self.wait_scraped(wait)

    def add_target(self, target: str, wait: float = SCRAPED_WITHIN) -> None:
        self.set_targets([*self.targets, target], wait)

    def remove_target(self, target: str) -> None:
        self.set_targets((t for t in self.targets if t != target), wait=0)

    def wait_scraped(self, timeout: float = SCRAPED_WITHIN) -> None:
        """Wait until every target in the config was scraped successfully at least once (its
        ``up`` is 1). PrometheusUnavailable with each target's health and error on timeout."""
        wanted = {f"http://{target}/metrics" for target in self.targets}
        deadline = time.monotonic() + timeout
        while True:
            active = self.active_targets()
            up = {t["scrapeUrl"] for t in active if t.get("health") == "up"}
            if wanted <= up:
                return
            if time.monotonic() >= deadline:
                health = [(t["scrapeUrl"], t.get("health"), t.get("lastError")) for t in active]
                raise PrometheusUnavailable(
                    f"targets not scraped within {timeout:g} s: {sorted(wanted - up)}; "
                    f"active targets: {health}"
                )
            time.sleep(0.1)

    def active_targets(self) -> list[dict[str, Any]]:
        """``/api/v1/targets``' active targets (``scrapeUrl``, ``health``, ``lastError``...)."""
        return list(self._get("targets", {"state": "active"})["activeTargets"])

    # -- queries ----------------------------------------------------------------------------

    def _get(self, endpoint: str, params: dict[str, str]) -> Any:
        url = f"{self.url}/api/v1/{endpoint}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as exc:  # 400/422: a bad query, the body says why
            answer = json.loads(exc.read() or b"{}")
        if answer.get("status") != "success":
            raise QueryError(f"{answer.get('errorType')}: {answer.get('error')} ({url})")
        return answer["data"]

    def query(self, promql: str) -> Result:
        """An instant query now; the ``result`` list (vector: ``{"metric": {...},
        "value": [ts, "0.05"]}`` items; empty when nothing matches)."""
        data = self._get("query", {"query": promql})
        result = data["result"]
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": result}]
        return list(result)

    def value(self, promql: str) -> float | None:
        """The single value of a one-element instant query; None when the result is empty."""
        result = self.query(promql)
        if not result:
            return None
        if len(result) > 1:
            raise QueryError(f"{promql!r} gave {len(result)} series, expected one")
        return float(result[0]["value"][1])

    def wait_for(
        self,
        promql: str,
        predicate: Callable[[Result], bool] = bool,
        timeout: float = 10.0,
        interval: float = 0.2,
    ) -> Result:
        """Query until ``predicate(result)`` holds (default: non-empty); that result.
        AssertionError with the last result and the targets' health on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if predicate(result):
                return result
            if time.monotonic() >= deadline:
                health = [
                    (t.get("scrapeUrl"), t.get("health"), t.get("lastError"))
                    for t in self.active_targets()
                ]
                raise AssertionError(
                    f"{promql!r} did not satisfy the predicate within {timeout:g} s; "
                    f"last result {result}; targets {health}"
                )
            time.sleep(interval)

    def wait_for_value(self, promql: str, expected: float, timeout: float = 10.0) -> float:
        """Wait until the one-series ``promql`` equals ``expected`` (to 1e-9); the value."""

        def matches(result: Result) -> bool:
            return len(result) == 1 and math.isclose(
                float(result[0]["value"][1]), expected, rel_tol=1e-9, abs_tol=1e-12
            )

        return float(self.wait_for(promql, matches, timeout)[0]["value"][1])


@contextmanager
def running_prometheus(
    targets: Iterable[str] = (), wait: float = SCRAPED_WITHIN
) -> Iterator[Prometheus]:
    """Prometheus scraping ``targets`` (``host:port``, path /metrics) every second, yielded once
    each target was scraped (``wait`` seconds at most; 0: as soon as it answers, ~0.1 s, and a
    first scrape comes ~5.5 s later); stopped and its folder removed afterwards."""
    if not PROMETHEUS.exists():
        raise PrometheusUnavailable(f"{PROMETHEUS} is missing: {INSTALL}")
    home = Path(tempfile.mkdtemp(prefix="prometheus-test-"))
    try:
        server = Prometheus(home, targets)
        for attempt in range(3):
            try:
                server.start()
                break
            except PrometheusUnavailable as exc:
                # Another process may take the free port between our probe and the bind.
                if "address already in use" not in str(exc) or attempt == 2:
                    raise
                server = Prometheus(home, targets)
        try:
            if wait and server.targets:
                server.wait_scraped(wait)
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)
