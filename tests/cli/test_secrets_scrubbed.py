"""A credential a target reflects back never leaves the process (issue 11 item 9, design §11).

Three HTTP targets send ``Authorization: Bearer ${SECRET_TOKEN}`` to a server that answers with
the header inside the body: as an invalid document's ``schema`` (its reason is printed), inside
a valid-looking document (its ``name`` and the model's version, so it shows in every diff), and
in an HTTP error page. Alerts go to ``${ALERT_WEBHOOK_URL}``, whose path is a secret too. Every
command and format runs for real, and a short-lived daemon; then every stdout and stderr, the
webhook bodies, the job summary, the daemon's log and ``/status`` and the bytes of the state store
are searched for the token and the webhook's path. Each output path is also checked to carry the
masked reflection (``***``), so the test fails if scrubbing is taken away from any one of them
(checked by turning each off in turn: the CLI's echo, the rich console, the job summary, the
daemon's log, alerts, state, and the up-front remembering of the inventory's secrets; ``/status``
is masked twice, so each of its two layers has a test of its own below).
"""

from __future__ import annotations

import json
import secrets
import shutil
import sqlite3
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from reconciler.secrets import MASK
from tests.daemon.support import DaemonProcess
from tests.servers.webhook import Webhook
from tests.support.cli import Run, reconciler
from tests.support.configrepo import ConfigRepo, inventory

TOKEN = "sk-live-" + secrets.token_hex(12)
HOOK_PATH = "/hooks/wh-" + secrets.token_hex(10)
#: What must appear nowhere: the token, its random part alone, the webhook's secret path.
NEEDLES = (TOKEN, TOKEN.removeprefix("sk-live-"), HOOK_PATH, HOOK_PATH.removeprefix("/hooks/"))
T0 = 1_800_000_000  # RECONCILER_NOW of the first command; later ones move forward from it


class _Reflector(BaseHTTPRequestHandler):
    """The Authorization header, reflected: ``/invalid/`` as an invalid document's schema,
    ``/named/`` as a rendered bundle's name, ``/pinned/`` twice in its model version (a diff
    shortens it: a cut piece must not leak either), ``/error/`` in an HTTP error page."""

    server: _ReflectingServer

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        kind = self.path.strip("/").split("/", 1)[0]
        if kind == "invalid":
            self._send(200, json.dumps({"schema": auth}), "application/json")
        elif kind in ("named", "pinned"):
            document = json.loads(self.server.rendered)
            if kind == "named":
                document["name"] = auth
            else:
                document["components"]["model"]["version"] = f"{auth} {auth}"
            self._send(200, json.dumps(document), "application/json")
        else:
            self._send(500, f"<html><body>token {auth} refused</body></html>", "text/html")

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/error/"):
            auth = self.headers.get("Authorization", "")
            self._send(500, f"<html><body>token {auth} refused</body></html>", "text/html")
        else:
            self._send(200, "", "text/plain")

    def _send(self, status: int, body: str, content_type: str) -> None:
        raw = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ReflectingServer(ThreadingHTTPServer):
    daemon_threads = True
    rendered = "{}"  #: the rendered bundle the ``named`` variant starts from


@pytest.fixture
def reflector() -> Iterator[_ReflectingServer]:
    server = _ReflectingServer(("127.0.0.1", 0), _Reflector)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Scene:
    """The config repo (v1, then v2 desired), the daemon's remote, and what commands printed."""

    repo: ConfigRepo
    origin: Path
    env: dict[str, str]
    base: str
    v1: str
    #: label -> text, of everything that left a process
    seen: dict[str, str] = field(default_factory=dict)

    def run(self, label: str, *args: str, at: int = 0, **env: str) -> Run:
        full = {**self.env, "RECONCILER_NOW": str(T0 + at), **env}
        done = reconciler("--repo", self.repo.root, *args, env=full)
        self.seen[f"{label}: stdout"] = done.out
        self.seen[f"{label}: stderr"] = done.err
        return done


def _targets(base: str) -> list[dict[str, Any]]:
    def reflecting(kind: str) -> dict[str, Any]:
        return {
            "name": f"reflect-{kind}",
            "kind": "region",
            "source": {
                "type": "http",
                "url": f"{base}{kind}/{{bundle}}.json",
                "headers": {"Authorization": "Bearer ${SECRET_TOKEN}"},
                "timeout": "2s",
            },
        }

    canary = {"name": "canary", "source": {"type": "file", "path": "fleet/c.json"}}
    return [canary, *(reflecting(kind) for kind in ("invalid", "named", "pinned", "error"))]


@pytest.fixture
def scene(tmp_path: Path, reflector: _ReflectingServer, webhook: Webhook) -> Scene:
    base = f"http://127.0.0.1:{reflector.server_address[1]}/"
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    policy = {"waves": [{"name": "all", "targets": ["*"]}], "progress_deadline": "30s"}
    alerts = [{"type": "webhook", "url": "${ALERT_WEBHOOK_URL}"}]
    repo.write("targets/production.yaml", inventory(_targets(base), rollout=policy, alerts=alerts))
    repo.write(".gitignore", "fleet/\n")
    (repo.root / "fleet").mkdir()
    v1 = repo.commit("v1")
    repo.bundle(temperature=0.3)
    repo.commit("v2")
    # The daemon's remote sits in a folder named after the token: git's own messages quote it.
    origin = tmp_path / TOKEN / "origin.git"
    origin.parent.mkdir()
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "origin", "HEAD:main")
    env = {
        "SECRET_TOKEN": TOKEN,
        "ALERT_WEBHOOK_URL": f"http://127.0.0.1:{webhook.port}{HOOK_PATH}",
    }
    found = Scene(repo, origin, env, base, v1)
    reflector.rendered = found.run("render", "render", "support-agent").out
    return found


def _leaks(seen: dict[str, str]) -> list[str]:
    return [label for label, text in seen.items() if any(n in text for n in NEEDLES)]


def _masked(seen: dict[str, str], *labels: str) -> list[str]:
    """The labels whose text does not show the masked reflection (each must)."""
    return [label for label in labels if MASK not in seen[label]]


def _state_bytes(root: Path) -> dict[str, str]:
    """Every file of ``.reconciler/`` but the daemon's git clone, as text (raw bytes decoded)."""
    out = {}
    for path in sorted((root / ".reconciler").rglob("*")):
        if path.is_file() and "clone" not in path.relative_to(root / ".reconciler").parts:
            out[f"state file {path.relative_to(root)}"] = path.read_bytes().decode("latin-1")
    return out


def test_a_reflected_credential_is_masked_in_every_output(
    scene: Scene, webhook: Webhook, tmp_path: Path
) -> None:
    run = scene.run
    env = ("--env", "production")
    # -- commands that read and report ---------------------------------------------------------
    run("validate", "validate")
    for fmt in ("text", "json", "markdown"):
        run(f"audit {fmt}", "audit", *env, "--format", fmt)
    summary = tmp_path / "step-summary.md"
    run("audit github", "audit", *env, "--format", "github", GITHUB_STEP_SUMMARY=str(summary))
    scene.seen["step summary"] = summary.read_text()
    run("skew", "skew", *env)
    for target in ("reflect-invalid", "reflect-named", "reflect-pinned", "reflect-error"):
        run(f"diff {target}", "diff", *env, target)
    run("plan", "plan", *env)
    run("plan --base", "plan", *env, "--base", scene.v1)
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(scene.seen["render: stdout"])
    run("parity", "parity", *env, "--eval", str(snapshot))
    run("parity json", "parity", *env, "--eval", str(snapshot), "--format", "json")
    # An eval snapshot URL holding the key: the one-line error quotes it (the fatal path).
    run("parity url", "parity", *env, "--eval", f"{scene.base}invalid/snapshot.json?key={TOKEN}")

    # -- commands that write ---------------------------------------------------------------------
    run("converge dry-run", "converge", *env, "--dry-run")
    run("converge", "converge", *env, "--timeout", "3s")
    run("converge stalled", "converge", *env, "--timeout", "1s", at=100)
    webhook.wait_for(1)
    run("status", "rollout", "status", *env)
    run("status json", "rollout", "status", *env, "--format", "json", at=101)
    run("pause", "rollout", "pause", *env, "--reason", f"token {TOKEN} looked wrong", at=102)
    run("resume", "rollout", "resume", *env, at=103)
    run("rollback", "rollback", *env, "--to", scene.v1, at=104)
    run("status after rollback", "rollout", "status", *env, at=105)
    run("status json after rollback", "rollout", "status", *env, "--format", "json", at=105)
    run("resume after rollback", "rollout", "resume", *env, at=106)
    run("abort", "rollout", "abort", *env, at=107)
    assert {received.path for received in webhook.received} == {HOOK_PATH}
    bodies = [json.dumps(received.body, ensure_ascii=False) for received in webhook.received]
    scene.seen["webhook bodies"] = "\n".join(bodies)

    # -- the daemon: its log lines, /status, and a git error that quotes the remote's path ------
    daemon = DaemonProcess(scene.repo.root, "--interval", "0.5s", env=scene.env)
    try:
        daemon.wait_until(lambda s: s["summary"]["targets"] == 5, what="a first audit")
        scene.seen["daemon /status"] = daemon.get("/status")[1].decode()
        scene.seen["daemon /metrics"] = daemon.get("/metrics")[1].decode()
        shutil.move(scene.origin, scene.origin.with_name("gone.git"))
        daemon.wait_until(
            lambda s: bool(s["daemon"]["git_fetch_error"]), what="the failing fetch in /status"
        )
        scene.seen["daemon /status, fetch failing"] = daemon.get("/status")[1].decode()
    finally:
        daemon.terminate()
        daemon.finish()
    scene.seen["daemon log"] = "\n".join(json.dumps(line) for line in daemon.lines)
    scene.seen.update(_state_bytes(scene.repo.root))

    # A store written before secrets were masked: commands that open no target (``rollout
    # status``) mask it all the same, as the inventory's secrets are remembered when it loads.
    db = sqlite3.connect(scene.repo.root / ".reconciler" / "state.db")
    with db:
        db.execute("UPDATE rollouts SET state = replace(state, ?, ?)", (MASK, TOKEN))
    [(old,)] = db.execute("SELECT count(*) FROM rollouts WHERE instr(state, ?)", (TOKEN,))
    db.close()
    assert old == 1
    run("status of an old store", "rollout", "status", *env, at=200)
    run("status json of an old store", "rollout", "status", *env, "--format", "json", at=200)

    assert not _leaks(scene.seen), f"secrets leaked into: {_leaks(scene.seen)}"
    # Not vacuous: every output path did carry the reflection, masked.
    assert not _masked(
        scene.seen,
        "audit text: stdout",
        "audit json: stdout",
        "audit markdown: stdout",
        "step summary",
        "audit github: stdout",
        "skew: stdout",
        "diff reflect-invalid: stdout",
        "diff reflect-named: stdout",
        "diff reflect-pinned: stdout",
        "plan: stdout",
        "parity: stdout",
        "parity url: stderr",
        "converge stalled: stdout",
        "status: stdout",
        "status json: stdout",
        "rollback: stdout",
        "webhook bodies",
        "daemon /status",
        "daemon /status, fetch failing",
        "daemon log",
        "state file .reconciler/state.db",
        "status json of an old store: stdout",
    )


# -- /status is masked twice (the document the daemon keeps, and the server's JSON): each alone --


def test_the_daemon_keeps_its_status_document_masked(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler.daemon.loop import Daemon

    for name, value in scene.env.items():
        monkeypatch.setenv(name, value)
    daemon = Daemon(scene.repo.root, "production", interval=30.0, listen="127.0.0.1:0")
    try:
        daemon._tick()
    finally:
        daemon.runners["production"].stop()
    kept = json.dumps(daemon.status(), ensure_ascii=False)  # what /status and the page read
    assert MASK in kept and not any(n in kept for n in NEEDLES)


def test_the_status_server_masks_what_it_serves() -> None:
    from reconciler import secrets as registry
    from reconciler.daemon.server import StatusServer

    registry.remember(TOKEN)
    document = {"targets": [{"error": f"schema is 'Bearer {TOKEN}'"}], TOKEN: [TOKEN]}
    server = StatusServer(
        "127.0.0.1:0",
        metrics=lambda: (b"", "text/plain"),
        status=lambda: document,
        alive=lambda: True,
        ready=lambda: True,
    )
    with server, urllib.request.urlopen(f"{server.url}/status", timeout=5) as response:
        served = response.read().decode()
    masked = {"targets": [{"error": f"schema is 'Bearer {MASK}'"}], MASK: [MASK]}
    assert json.loads(served) == masked
