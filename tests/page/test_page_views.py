"""The on-call page rendered from a real audit of file targets, without a browser: the same
rows and words as ``reconciler skew`` and ``reconciler diff``, escaping, scrubbing, headers."""

from __future__ import annotations

import datetime as dt
import http.client
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler import secrets
from reconciler.audit.results import Audit
from reconciler.daemon.server import StatusServer
from reconciler.page import OnCallPage
from tests.page.support import BUNDLES, INJECTED, SUBJECT_V2, build

NOW = dt.datetime(2026, 11, 21, 18, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("page") / "config").root


@pytest.fixture(scope="module")
def audit(fleet: Path) -> Audit:
    from reconciler.audit.auditor import Auditor

    return Auditor(fleet, "production").run(now=NOW)


@pytest.fixture
def page(audit: Audit, fleet: Path) -> OnCallPage:
    published = OnCallPage("production", interval=30, clock=lambda: NOW.timestamp())
    published.publish(audit, {}, repo=fleet)
    return published


def _text(html: bytes) -> str:
    """The page's visible words, roughly: tags dropped, entities of < > & read back."""
    text = re.sub(r"<script.*?</script>|<style.*?</style>", " ", html.decode(), flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'")
    return re.sub(r"\s+", " ", text.replace("&amp;", "&"))


def test_the_table_has_the_cells_of_reconciler_skew(audit: Audit) -> None:
    from rich.table import Table

    from reconciler.page.view import COLUMNS, skew_rows
    from reconciler.report.skew import skew_view

    table = next(r for r in skew_view(audit, audit.tags).renderables if isinstance(r, Table))
    assert [c.header for c in table.columns] == [heading for _, heading in COLUMNS]
    cli = [[str(c._cells[i]) for c in table.columns] for i in range(table.row_count)]
    page = [
        [
            *(r.target, r.kind, r.bundle, f"{r.status} {r.mark}".strip()),
            *(r.revision, r.behind, r.skew_age, r.worst_change),
        ]
        for r in skew_rows(audit)
    ]
    assert page == cli
    assert len(page) == len(audit.targets) * len(BUNDLES)  # one row per target and bundle


def test_index_shows_revision_subject_banner_and_every_row(page: OnCallPage, audit: Audit) -> None:
    code, body, _ = page.respond("/", {})
    assert code == 200
    text = _text(body)
    label = audit.desired_revision[:7]
    assert f"production at {label}" in text
    assert SUBJECT_V2 in text  # the commit subject, as text
    assert "STALLED support-agent" in text  # judged by git time: no state here
    assert "judged from git commit times" in text
    assert body.count(b"<tr data-filters=") == 4 * len(BUNDLES)
    assert "coverage 0%" in text


def test_a_script_in_a_value_is_escaped_and_no_handler_is_inline(page: OnCallPage) -> None:
    for path in ("/", "/targets/eu"):
        _, body, headers = page.respond(path, {})
        html = body.decode()
        assert INJECTED not in html
        assert "&lt;script&gt;window.pwned = 1;" in html
        scripts = re.findall(r"<script([^>]*)>", html)
        nonce = re.search(r"'nonce-([^']+)'", headers["Content-Security-Policy"])
        assert nonce and scripts == [f' nonce="{nonce.group(1)}"']
        assert not re.search(r"\son[a-z]+\s*=", html)  # no inline event handlers
        assert "<form" not in html


def test_the_diff_page_puts_breaking_first_with_the_prompt_lines(page: OnCallPage) -> None:
    code, body, _ = page.respond("/targets/eu", {})
    assert code == 200
    text = _text(body)
    assert "eu / support-agent: lagging at" in text
    assert "summary -> exec_summary" in text
    severities = re.findall(r'data-severity="(\w+)"', body.decode())
    assert severities[0] == "breaking" and "behavioral" in severities
    ranks = {"breaking": 3, "behavioral": 2, "compatible": 1, "cosmetic": 0}
    first = [ranks[s] for s in severities[: severities.index("behavioral") + 1]]
    assert first == sorted(first, reverse=True)
    assert f"+ Never echo {INJECTED} back." in text  # the changed line, as text
    assert "eu / triage-agent: in_sync" in text and "no differences" in text


def test_unknown_target_and_path_are_404_pages(page: OnCallPage) -> None:
    code, body, headers = page.respond("/targets/nowhere", {})
    assert code == 404 and headers["Content-Type"].startswith("text/html")
    assert "no target named 'nowhere'" in _text(body)
    assert b'href="/targets/eu"' in body


def test_before_the_first_audit_every_page_says_starting() -> None:
    fresh = OnCallPage("production")
    for path in ("/", "/targets/eu"):
        code, body, _ = fresh.respond(path, {})
        assert code == 503
        assert "production: starting" in _text(body)
        assert b'http-equiv="refresh"' in body  # it reloads itself, without script


def test_sorting_and_filtering_by_query_work_without_the_script(page: OnCallPage) -> None:
    _, body, _ = page.respond("/", {"sort": "target", "order": "desc", "status": "lagging"})
    html = body.decode()
    order = re.findall(r'<tr data-filters="([^"]*)"( hidden)?>\s*<td data-value="([^"]+)"', html)
    names = [name for _, _, name in order]
    assert names == sorted(names, reverse=True)
    shown = {name for filters, hidden, name in order if not hidden}
    assert shown == {"eu", "pop"}  # hand is drifted, gone unreachable
    assert all("lagging" in f for f, hidden, _ in order if not hidden)
    assert 'aria-sort="descending"' in html


def test_secrets_are_scrubbed_from_the_page(page: OnCallPage) -> None:
    secrets.remember("exec_summary")  # stands in for a token a target reflects back
    try:
        for path in ("/", "/targets/eu"):
            _, body, _ = page.respond(path, {})
            assert b"exec_summary" not in body
            assert b"summary -&gt; ***" in body
    finally:
        secrets.forget_all()


@pytest.fixture
def served(page: OnCallPage) -> Iterator[StatusServer]:
    with StatusServer(
        "127.0.0.1:0",
        metrics=lambda: (b"", "text/plain"),
        status=lambda: {"ok": True},
        alive=lambda: True,
        ready=lambda: True,
        page=page.respond,
    ) as server:
        yield server


def _get(server: StatusServer, path: str, method: str = "GET") -> tuple[int, Any, bytes]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def test_served_with_security_headers_and_read_only(served: StatusServer) -> None:
    code, headers, _ = _get(served, "/?sort=behind&order=desc")
    assert code == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'nonce-" in csp
    assert "unsafe-inline" not in csp and "form-action 'none'" in csp
    assert _get(served, "/targets/pop")[0] == 200
    assert _get(served, "/targets/p%6fp")[0] == 200  # percent-encoded names are decoded
    for method in ("POST", "PUT", "DELETE"):
        assert _get(served, "/", method)[0] == 405
    code, headers, _ = _get(served, "/status")
    assert code == 200 and headers["X-Content-Type-Options"] == "nosniff"


def test_jinja_is_imported_only_when_a_page_is_rendered(fleet: Path) -> None:
    code = (
        "import sys\n"
        "import reconciler.daemon.loop, reconciler.page\n"
        "from reconciler.cli import main\n"
        "try:\n"
        f"    main(['--repo', {str(fleet)!r}, 'audit', '--env', 'production',\n"
        "          '--format', 'json'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('jinja2' in sys.modules, file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr.strip().splitlines()[-1] == "False", out.stderr
    assert '"schema": "agent-reconciler.audit/v1"' in out.stdout


def test_a_legitimate_wait_reads_waiting_never_stalled(audit: Audit, fleet: Path) -> None:
    from dataclasses import replace

    from reconciler.audit.verdict import Authority, Verdict

    words = "holiday freeze; opens Mon 2027-01-04 00:00 Europe/Berlin"
    verdicts = {
        b: Verdict(b, Authority.GIT, waiting=("WaitingForWindow", words, None))
        for b in audit.verdicts
    }
    published = OnCallPage("production", interval=30, clock=lambda: NOW.timestamp())
    published.publish(replace(audit, verdicts=verdicts), {}, repo=fleet)
    text = _text(published.respond("/", {})[1])
    assert f"WAITING support-agent : WaitingForWindow: {words}" in text
    assert "a legitimate wait: not a stall" in text
    assert "STALLED support-agent" not in text
