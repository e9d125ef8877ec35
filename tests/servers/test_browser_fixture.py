"""The browser fixture works: headless Chromium loads a page from a local HTTP server, runs its
script, and its console shows no error (and does show a thrown one); a screenshot is saved.
Debian's Chromium starts without Selenium Manager."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.common.selenium_manager import SeleniumManager
from selenium.webdriver.support.ui import WebDriverWait

from tests.servers.browser import CHROMIUM, console_errors, running_browser

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>smoke</title>
<link rel="icon" href="data:,"></head>
<body><p id="out">waiting</p>
<script>
  const parts = ["rendered", "by", "script"];
  document.getElementById("out").textContent = parts.join(" ");
  console.log("page script ran");
</script></body></html>
"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """``tmp_path/site`` served on 127.0.0.1; its base URL."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text(PAGE)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_local_page_renders_without_console_errors(
    browser: Chrome, site: str, tmp_path: Path
) -> None:
    console_errors(browser)  # drain what earlier tests left in the shared browser's console
    browser.get(site + "index.html")
    WebDriverWait(browser, 10).until(
        lambda driver: driver.find_element(By.ID, "out").text != "waiting"
    )
    assert browser.find_element(By.ID, "out").text == "rendered by script"
    assert browser.title == "smoke"
    assert console_errors(browser) == []

    screenshot = tmp_path / "page.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.read_bytes().startswith(b"\x89PNG")
    print(f"screenshot: {screenshot}")


def test_console_errors_are_reported(browser: Chrome, site: str) -> None:
    browser.get(site + "index.html")
    console_errors(browser)
    browser.execute_script("setTimeout(() => { throw new Error('smoke-boom'); }, 0)")
    seen: list[dict[str, Any]] = []

    def reported(driver: Chrome) -> bool:
        seen.extend(console_errors(driver))
        return any("smoke-boom" in str(entry["message"]) for entry in seen)

    WebDriverWait(browser, 5).until(reported)


def test_debians_chromium_starts_without_selenium_manager(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def no_manager(self: SeleniumManager, args: list[str]) -> dict[str, str]:
        raise AssertionError(f"Selenium Manager was asked for {args}")

    monkeypatch.setattr(SeleniumManager, "binary_paths", no_manager)
    debian = subprocess.run(
        [str(CHROMIUM), "--version"], capture_output=True, text=True, check=True
    ).stdout
    with running_browser(tmp_path / "chromedriver.log") as own:
        assert own.capabilities["browserVersion"] in debian
