"""Headless Chromium for the HTML report tests (selenium driving Debian's chromium and
chromium-driver packages). `browser()` says why it cannot start instead of failing obscurely:
the tests skip with that reason, or fail where FWBENCH_REQUIRE_BROWSER=1 (CI installs the browser).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = ("chromedriver",)
INSTALL = "apt-get install -y chromium chromium-driver (Debian) and pip install selenium"


def missing() -> str | None:
    """Why the browser tests cannot run here (None: they can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return f"selenium is not installed: {INSTALL}"
    if not any(shutil.which(b) for b in CHROMIUM):
        return f"no Chromium on PATH: {INSTALL}"
    if not any(shutil.which(d) for d in DRIVER):
        return f"no chromedriver on PATH: {INSTALL}"
    return None


def start(width: int = 1300, height: int = 1000):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = next(shutil.which(b) for b in CHROMIUM if shutil.which(b))
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              f"--window-size={width},{height}", "--allow-file-access-from-files"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(next(shutil.which(d) for d in DRIVER if shutil.which(d)))
    return webdriver.Chrome(options=opts, service=service)


def requests(driver) -> list[str]:
    """Every URL the page asked for since the last call (Chromium's performance log)."""
    out = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            out.append(msg["params"]["request"]["url"])
    return out


def console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def open_page(driver, path: Path) -> None:
    driver.get(Path(path).resolve().as_uri())
    driver.execute_script("return document.readyState")  # the page and its inline scripts have run


def required() -> bool:
    return os.environ.get("FWBENCH_REQUIRE_BROWSER") == "1"


def leaving(urls: list[str], page: Path) -> list[str]:
    """The requests that leave the file: anything but the page itself and data inside it (data:, blob:)."""
    me = Path(page).resolve().as_uri()
    return [u for u in urls if u != me and not u.startswith(("data:", "blob:", "about:"))]
