"""Headless Chromium driven by Selenium, for tests of pages served on 127.0.0.1.

Debian's chromium and chromium-driver (tests/servers/install.d/chromium.sh), used as installed:
the Service names /usr/bin/chromedriver and the options name /usr/bin/chromium, so Selenium
Manager never runs (and ``SE_OFFLINE`` forbids it any download, should it ever run). The flags
keep Chromium off the network (this machine's closed network refuses its background
connections) and in a fresh profile. The browser's console is recorded (``goog:loggingPrefs``):
:func:`console_errors` returns its SEVERE entries, so a test can assert there were none.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from selenium.webdriver import Chrome

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = "run tests/servers/install.sh (or tests/servers/install.d/chromium.sh)"
FLAGS = (
    "--headless=new",
    "--no-sandbox",  # as root Chromium refuses its sandbox
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--window-size=1280,800",
)


class BrowserUnavailable(RuntimeError):
    """Chromium, its driver or Selenium is missing, or the browser did not start."""


def console_log(driver: Chrome) -> list[dict[str, Any]]:
    """The browser console's entries since the last call (``level``, ``message``, ``source``,
    ``timestamp``). Reading drains them: each test sees only what happened after the last read."""
    return list(driver.get_log("browser"))


def console_errors(driver: Chrome) -> list[dict[str, Any]]:
    """The SEVERE console entries since the last read (uncaught errors, console.error, failed
    loads)."""
    return [entry for entry in console_log(driver) if entry.get("level") == "SEVERE"]


@contextmanager
def running_browser(log: Path | None = None) -> Iterator[Chrome]:
    """A headless Chromium in a fresh profile, as a Selenium ``webdriver.Chrome``; quit and its
    profile removed afterwards. chromedriver logs to ``log`` when given (else nowhere)."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        raise BrowserUnavailable(f"Chromium is not installed ({', '.join(missing)}): {INSTALL}")
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        raise BrowserUnavailable(
            f"selenium is not installed ({exc}): pip install -e '.[test]'"
        ) from None
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: never download anything
    profile = Path(tempfile.mkdtemp(prefix="chromium-test-"))
    try:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(
            executable_path=str(CHROMEDRIVER),
            log_output=str(log) if log is not None else os.devnull,
        )
        try:
            driver = webdriver.Chrome(options=options, service=service)
        except WebDriverException as exc:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise BrowserUnavailable(f"Chromium did not start: {exc.msg}\n{tail}") from None
        try:
            yield driver
        finally:
            driver.quit()
    finally:
        # Chromium may still be writing its profile for a moment after quit.
        for _ in range(10):
            shutil.rmtree(profile, ignore_errors=True)
            if not profile.exists():
                break
            time.sleep(0.1)
