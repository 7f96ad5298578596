"""The operations view for tests: a packing line whose daemon serves the station display,
a real headless Chromium to look at it, and plain HTTP reads of /metrics and /healthz.

The line is the fault tests' (tests/faults/conftest.py): `edge run` as a real
process, its scanners real ptys, its broker a real Mosquitto; the config gets
a ``[display]`` table on a free loopback port.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.config import load_config
from edge.demo import DEMO_DATA
from edge.masterdata.bom import import_bom
from edge.masterdata.items import import_items
from edge.runtime.bootstrap import build_service
from tests.faults.conftest import Line, Scanner, write_config
from tests.scanner_pty import CEILING_S, free_port

CHROMIUM = ("chromium", "chromium-browser")
CHROMEDRIVER = "chromedriver"


def view_line(
    directory: Path,
    broker: Any,
    scanners: list[Scanner],
    *,
    display: bool = True,
    database: Path | None = None,
    min_free_mb: int | None = None,
) -> tuple[Line, str | None]:
    """A line with the demo catalog; with ``display``, its view's base URL."""
    database = database or directory / "edge.db"
    config_path = write_config(directory, broker, scanners, database=database,
                               min_free_mb=min_free_mb)  # fmt: skip
    base = None
    if display:
        port = free_port()
        with config_path.open("a") as config:
            config.write(f'\n[display]\nlisten = "127.0.0.1:{port}"\nsound = true\n')
        base = f"http://127.0.0.1:{port}"
    service = build_service(load_config(config_path))
    import_items(service, DEMO_DATA / "items.csv")
    import_bom(service, DEMO_DATA / "bom.csv")
    service.engine.dispose()
    return Line(directory, config_path, database, list(scanners)), base


def get(url: str) -> tuple[int, str]:
    """Status and body of a GET (an error status is an answer too)."""
    try:
        with urllib.request.urlopen(url, timeout=CEILING_S) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def answering(base: str) -> bool:
    """Whether the view's server answers /healthz with 200 yet (it starts after the scanners)."""
    try:
        return get(f"{base}/healthz")[0] == 200
    except urllib.error.URLError:
        return False


def edge_status(config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge", "status", "--config", str(config), *extra],
        capture_output=True, text=True, timeout=CEILING_S, check=False,
    )  # fmt: skip


def _chromium() -> tuple[str, str] | None:
    browser = next((found for name in CHROMIUM if (found := shutil.which(name))), None)
    driver = shutil.which(CHROMEDRIVER) or (
        "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None
    )
    return (browser, driver) if browser and driver else None


@contextlib.contextmanager
def headless_chromium() -> Iterator[Any]:
    """A headless Chromium through Debian's chromedriver (scripts/test installs both)."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extra")
    found = _chromium()
    if found is None:
        pytest.skip("no chromium and chromedriver here (scripts/test installs Debian's)")
    browser, driver_path = found
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1350",
        "--autoplay-policy=no-user-gesture-required",
    ):
        options.add_argument(flag)  # fmt: skip
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
