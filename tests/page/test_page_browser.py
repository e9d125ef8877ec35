"""The on-call page of a real daemon, in a real headless Chromium: a small fleet whose rollout
stalls on an unreachable canary (progress_deadline 2s), while the desired commit renames the
report's ``summary`` to ``exec_summary`` and carries a ``<script>`` in a prompt and its subject."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.daemon.support import DaemonProcess, Remote
from tests.page.support import BUNDLES, INJECTED, PROMPT_V2, SUBJECT_V2
from tests.servers.browser import console_errors
from tests.servers.nginx import Nginx
from tests.servers.process import free_port
from tests.support.configrepo import inventory
from tests.support.fleet import four_targets, make_fleet_dirs

T = TypeVar("T")

#: The skew table's visible rows, read in one go (the page may refresh itself meanwhile).
ROWS = """return Array.from(document.querySelectorAll('#skew tbody tr'))
    .filter(function (r) { return !r.hidden; })
    .map(function (r) { return Array.from(r.cells).map(function (c) {
        return c.textContent.replace(/\\s+/g, ' ').trim(); }); });"""


def _all_in_sync(status: dict[str, Any]) -> bool:
    return status["summary"]["in_sync"] == status["summary"]["targets"] and all(
        (r or {}).get("phase") == "complete" for r in status["rollout"].values()
    )


@pytest.fixture(scope="module")
def stalled(tmp_path_factory: pytest.TempPathFactory, nginx: Nginx) -> Iterator[DaemonProcess]:
    """A daemon whose support-agent rollout to v2 is stalled: the canary went unreachable."""
    root = tmp_path_factory.mktemp("stalled")
    remote = Remote(root)
    served = root / "served"
    served.mkdir()
    author = remote.author
    for bundle in BUNDLES:
        author.bundle(bundle)
    rollout = {
        "waves": [
            {"name": "canary", "targets": ["canary"], "bake": "0.3s"},
            {"name": "rest", "targets": ["*"]},
        ],
        "progress_deadline": "2s",
    }
    targets = four_targets(nginx.serve(served))
    fleet = {"bundles": list(BUNDLES), "rollout": rollout}
    author.write("targets/production.yaml", inventory(targets, **fleet))
    author.write(".gitignore", "fleet/\n")
    author.commit("v1")
    remote.push()
    user = remote.clone_user()
    make_fleet_dirs(user)
    daemon = DaemonProcess(user, "--interval", "0.2s")
    try:
        daemon.wait_until(_all_in_sync, what="v1 everywhere")
        # v2 renames the report's field, and moves the canary to a port nothing answers on.
        dead = f"http://127.0.0.1:{free_port()}/canary/{{bundle}}.json"
        targets[0]["source"] = {"type": "http", "url": dead, "timeout": "1s"}
        author.write("targets/production.yaml", inventory(targets, **fleet))
        author.bundle("support-agent", field="exec_summary", prompt=PROMPT_V2)
        author.commit(SUBJECT_V2)
        author.git("tag", "v2")
        v2 = remote.push()
        author.git("push", "-q", "origin", "v2")
        daemon.wait_until(
            lambda s: s["desired"]["revision"] == v2 and s["verdicts"]["support-agent"]["stalled"],
            what="the v2 rollout stalled",
        )
        yield daemon
    finally:
        daemon.kill()


def _retry(action: Callable[[], T], attempts: int = 5) -> T:
    """Run ``action`` again when the page's refresh replaced the element it held."""
    for _ in range(attempts - 1):
        try:
            return action()
        except StaleElementReferenceException:
            time.sleep(0.2)
    return action()


def _click(browser: Chrome, selector: str) -> None:
    _retry(lambda: browser.find_element(By.CSS_SELECTOR, selector).click())


def _rows(browser: Chrome) -> list[list[str]]:
    rows: list[list[str]] = browser.execute_script(ROWS)
    return rows


def _shoot(browser: Chrome, path: Path) -> None:
    browser.save_screenshot(str(path))
    print(f"screenshot: {path}")


def test_the_environment_page(browser: Chrome, stalled: DaemonProcess, tmp_path: Path) -> None:
    status = stalled.status()
    assert status is not None
    console_errors(browser)  # drain what earlier tests left in the shared browser's console
    browser.get(stalled.url + "/")
    wait = WebDriverWait(browser, 15)
    banner = wait.until(lambda b: b.find_element(By.CSS_SELECTOR, '[data-banner="STALLED"]'))
    _shoot(browser, tmp_path / "page.png")
    heading = browser.find_element(By.TAG_NAME, "h1").text
    assert heading == f"production at v2 ({status['desired']['revision'][:7]})"
    text = banner.text
    assert text.startswith("STALLED support-agent")
    assert "blocked by canary: unreachable" in text, text

    rows = _rows(browser)
    pairs = [(row[0], row[2]) for row in rows]
    expected = {(t["name"], b["bundle"]) for t in status["targets"] for b in t["bundles"]}
    assert len(pairs) == len(set(pairs)) == len(expected) == 4 * len(BUNDLES)
    assert set(pairs) == expected
    by_pair = {(row[0], row[2]): row for row in rows}
    assert by_pair[("canary", "support-agent")][3] == "unreachable STALLED"
    assert by_pair[("eu", "support-agent")][3] == "lagging"
    assert "summary -> exec_summary" in by_pair[("eu", "support-agent")][7]
    assert by_pair[("eu", "triage-agent")][3] == "in_sync"

    # The injected script is text in the header, and never ran.
    subject = browser.find_element(By.CSS_SELECTOR, ".subject").text
    assert subject == SUBJECT_V2
    assert browser.execute_script("return typeof window.pwned") == "undefined"
    assert "pwned" not in browser.title

    # Sorting: a click on "target" sorts ascending, a second one descending.
    inventory_order = [row[0] for row in rows]
    _click(browser, 'th[data-key="target"] a')
    ascending = [row[0] for row in _rows(browser)]
    assert ascending == sorted(inventory_order) != inventory_order
    _click(browser, 'th[data-key="target"] a')
    descending = [row[0] for row in _rows(browser)]
    assert descending == sorted(inventory_order, reverse=True)
    assert browser.current_url.endswith("?sort=target&order=desc")

    # Filtering by status: only the lagging rows, then all again.
    _click(browser, 'a[data-filter="lagging"]')
    lagging = _rows(browser)
    assert lagging and all(row[3].startswith("lagging") for row in lagging)
    assert len(lagging) == sum(1 for row in rows if row[3].startswith("lagging"))
    _click(browser, 'a[data-filter=""]')
    assert len(_rows(browser)) == len(rows)

    # The rollout panel counts the deadline down; its conditions say why.
    panel = browser.find_element(By.CSS_SELECTOR, '.panel[data-bundle="support-agent"]').text
    assert "Stalled=True" in panel and "ProgressDeadlineExceeded" in panel
    assert "1 canary 0/1 current" in panel

    # The page refreshes itself in place and keeps the order it was given.
    wait.until(lambda b: b.find_element(By.ID, "liveness").text.startswith("updated"))
    assert [row[0] for row in _rows(browser)] == descending
    moments = browser.find_element(By.CSS_SELECTOR, ".moments").text
    assert "apply -> canary" in moments and "stalled" in moments
    assert console_errors(browser) == []
    _shoot(browser, tmp_path / "page-sorted.png")


def test_the_target_page(browser: Chrome, stalled: DaemonProcess, tmp_path: Path) -> None:
    console_errors(browser)
    browser.get(stalled.url + "/")
    _click(browser, 'td a[href="/targets/eu"]')
    WebDriverWait(browser, 15).until(lambda b: b.current_url.endswith("/targets/eu"))
    _shoot(browser, tmp_path / "target-eu.png")
    body = browser.find_element(By.TAG_NAME, "main").text
    assert "eu / support-agent: lagging at" in body
    assert "summary -> exec_summary" in body
    severities = [
        e.get_attribute("data-severity") for e in browser.find_elements(By.CSS_SELECTOR, ".change")
    ]
    assert severities[0] == "breaking" and "behavioral" in severities
    added = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".line-add")]
    assert f"+ Never echo {INJECTED} back." in added  # the prompt's changed line, as text
    assert browser.execute_script("return typeof window.pwned") == "undefined"
    assert "pwned" not in browser.title
    assert console_errors(browser) == []

    code, page = stalled.get("/targets/nowhere")
    assert code == 404 and b"no target named" in page


def test_before_the_first_audit_the_page_says_starting(tmp_path: Path) -> None:
    user = tmp_path / "user"
    subprocess.run(["git", "init", "-q", "-b", "main", str(user)], check=True)
    missing = tmp_path / "no-such-remote.git"
    subprocess.run(["git", "-C", str(user), "remote", "add", "origin", str(missing)], check=True)
    daemon = DaemonProcess(user, "--interval", "0.2s")
    try:
        code, body = daemon.get("/")
        assert code == 503
        assert b"production: starting" in body and b"first audit" in body
    finally:
        daemon.kill()
