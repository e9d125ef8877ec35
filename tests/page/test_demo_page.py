"""``reconciler demo --serve``: the demo fleet's on-call page, in a real headless Chromium.

The demo shows two incidents (a stalled rollout, rolled back and held; then a model upgrade
paused at its canary by the output contract), so its page only audits:
the fleet's files and the state store are the same bytes before and after. With
``UPDATE_DOCS_SCREENSHOT=1`` the test also writes the README's screenshot,
``docs/on-call-page.png`` (1280x900; optimised by ``optipng`` when it is installed).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.servers.browser import console_errors
from tests.support.cli import EXE

DOCS = Path(__file__).resolve().parents[2] / "docs" / "on-call-page.png"
WIDTH, HEIGHT = 1280, 900


class Demo:
    """``reconciler demo --serve`` in the background, its output read line by line."""

    def __init__(self, directory: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "160"}
        self.proc = subprocess.Popen(
            [str(EXE), "demo", "--dir", str(directory), "--serve"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self.url = ""
        self._seen = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if "on-call page: http://" in line:
                self.url = line.split("on-call page: ", 1)[1].strip()
                self._seen.set()
        self._seen.set()

    def wait_for_url(self, timeout: float = 180) -> str:
        assert self._seen.wait(timeout), "\n".join(self.lines[-20:])
        assert self.url, "\n".join(self.lines[-20:])
        return self.url

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=30)


def _fingerprint(root: Path) -> dict[str, str]:
    """Every file of the fleet by content, and the state store by what it holds (SQLite's
    own checkpoints move bytes between its files without changing a row)."""
    files = [p for p in (root / "fleet").rglob("*") if p.is_file()]
    seen = {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    db = sqlite3.connect(f"file:{root / '.reconciler' / 'state.db'}?mode=ro", uri=True)
    try:
        seen["state"] = hashlib.sha256("\n".join(db.iterdump()).encode()).hexdigest()
    finally:
        db.close()
    return seen


def test_demo_serve_gives_the_fleets_page(browser: Chrome, tmp_path: Path) -> None:
    demo = Demo(tmp_path / "demo")
    try:
        url = demo.wait_for_url()
        assert demo.lines[-1].endswith(url), "the demo's last line gives the page's URL"
        before = _fingerprint(tmp_path / "demo")
        console_errors(browser)
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
        )
        try:
            browser.get(url)  # 503 "starting" until the watcher's first audit: it reloads itself
            # The demo ends with v48 paused at its canary: its outputs broke the contract.
            banner = WebDriverWait(browser, 60).until(
                lambda b: b.find_element(By.CSS_SELECTOR, '[data-banner="PAUSED"]')
            )
            assert "output_contract failed on us-east-1" in banner.text
            assert "exec_summary" in banner.text and "paused by reconciler" in banner.text
            rows = browser.find_elements(By.CSS_SELECTOR, "#skew tbody tr")
            assert len(rows) == 9  # nine targets, one bundle
            text = browser.find_element(By.TAG_NAME, "main").text
            assert "model: version 2025-04-14 -> 2025-08-07" in text and "unreachable" in text
            shot = tmp_path / "demo-page.png"
            browser.save_screenshot(str(shot))
            print(f"screenshot: {shot}")
            if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":
                shutil.copyfile(shot, DOCS)
                if shutil.which("optipng"):  # lossless, about a quarter smaller
                    subprocess.run(["optipng", "-quiet", "-o5", "-strip", "all", str(DOCS)])
                print(f"README screenshot updated: {DOCS}")
        finally:
            browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        errors = [e for e in console_errors(browser) if " 503 " not in e["message"]]
        assert errors == []  # (the "starting" page's own 503 is the one expected entry)
        time.sleep(1)
        assert _fingerprint(tmp_path / "demo") == before, "the page wrote to the fleet or state"
    finally:
        code = demo.stop()
    assert code == 0, "\n".join(demo.lines[-20:])
