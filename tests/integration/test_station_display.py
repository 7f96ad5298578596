"""The station display, /metrics and /healthz of a running `edge run`, seen from outside.

One daemon (real ptys, a real broker, a real SQLite file) serves the module; the
page is looked at in a real headless Chromium, /metrics is read with
prometheus_client's own parser and checked against the journal's rows.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.broker import Mosquitto, mosquitto_binary, poll
from tests.faults.conftest import ACK, NAK, SHIP_GTIN, EdgeRun, Line, PtyScanner
from tests.readme import blocks
from tests.station_view import answering, get, headless_chromium, view_line

REPO = Path(__file__).resolve().parents[2]
# What the page must show within this long of the scanner's answer (the commit).
SHOWN_WITHIN_S = 2.0
SERIAL_CODE = f"(01){SHIP_GTIN}(21)SN0001"


@dataclass
class Shop:
    line: Line
    run: EdgeRun
    base: str
    pack: PtyScanner
    scrap: PtyScanner

    def scan(self, scanner: PtyScanner, code: str) -> int:
        """Type a code and wait for the scanner's answer (it comes after the commit)."""
        heard = scanner.heard_count()
        scanner.type(code)
        return scanner.wait_heard(heard + 1)[-1]

    def journal_counts(self) -> dict[tuple[str, str, str], int]:
        rows = self.line.rows(
            "SELECT station, status, coalesce(reason, ''), count(*) FROM scans "
            "GROUP BY station, status, reason"
        )
        return {(station, status, reason): count for station, status, reason, count in rows}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    if mosquitto_binary() is None:
        pytest.skip("mosquitto is not installed (scripts/test installs the Debian package)")
    directory = tmp_path_factory.mktemp("display")
    broker = Mosquitto(directory / "broker")
    broker.start()
    with tempfile.TemporaryDirectory(prefix="by-id-") as by_id:
        pack = PtyScanner("pack", "PACK-1", Path(by_id) / "usb-Acme_Scanner_PACK-if00")
        scrap = PtyScanner("scrap", "SCRAP-1", Path(by_id) / "usb-Acme_Scanner_SCRAP-if00")
        for scanner in (pack, scrap):
            scanner.plug()
        line, base = view_line(directory, broker, [pack, scrap])
        assert base is not None
        run = EdgeRun(line, directory / "edge-run.log")
        try:
            for scanner in (pack, scrap):
                run.wait_log(rf"scanner {scanner.id} connected:")
            poll(lambda: answering(base), "the display to answer")
            yield Shop(line, run, base, pack, scrap)
            assert run.terminate() == 0, run.log_text()
        finally:
            if run.process.poll() is None:
                run.kill()
            for scanner in (pack, scrap):
                scanner.unplug()
            broker.kill()


# The page renders each state anew (and its countdowns four times a second), so it is read
# in one script call, never through element handles that a render makes stale.
def _read(browser: Any, css: str, attribute: str | None = None) -> list[str | None]:
    """Each element's text (or ``attribute``) matching ``css``, as one snapshot of the DOM."""
    return list(browser.execute_script(
        "return [...document.querySelectorAll(arguments[0])]"
        ".map((e) => arguments[1] ? e.getAttribute(arguments[1]) : e.textContent);",
        css, attribute,
    ))  # fmt: skip


def _banner(browser: Any) -> tuple[str | None, str | None]:
    [status] = _read(browser, "#banner", "data-status")
    [words] = _read(browser, "#words")
    return status, words


def _scanner_state(browser: Any, scanner: str) -> str | None:
    found = _read(browser, f'#scanners li[data-scanner="{scanner}"]', "data-state")
    return found[0] if found else None


def _low_parts(line: Line, station: str) -> set[str]:
    """The parts the station moved whose balance is negative or at/below its reorder point."""
    rows = line.rows(
        "SELECT DISTINCT i.part, i.reorder_point, coalesce(b.on_hand, '0') FROM ledger l "
        "JOIN transactions t ON t.id = l.txn_id JOIN items i ON i.part = l.part "
        "LEFT JOIN balances b ON b.part = l.part WHERE t.station = ?",
        station,
    )
    return {
        part
        for part, point, on_hand in rows
        if Decimal(on_hand) < 0 or (point is not None and Decimal(on_hand) <= Decimal(point))
    }


def test_the_station_page_shows_each_scan_its_reason_and_each_scanners_connection(
    shop: Shop, tmp_path: Path
) -> None:
    with headless_chromium() as browser:
        browser.get(f"{shop.base}/station/PACK-1")
        poll(lambda: _scanner_state(browser, "pack") == "connected", "the page's first state")
        for code, answer, status, words in (
            (SERIAL_CODE, ACK, "accepted", f"{SERIAL_CODE} OK"),
            # (a code in between: the same code twice in a row is a double read)
            ("NOT-A-PART", NAK, "rejected", "unknown part NOT-A-PART"),
            (SERIAL_CODE, NAK, "rejected", "serial SN0001 already shipped"),
            ("QTY:3", ACK, "accepted", "quantity 3 for the next scan"),
            ("NOT-A-PART", NAK, "rejected", "unknown part NOT-A-PART"),  # QTY: stays pending
        ):
            assert shop.scan(shop.pack, code) == answer, code
            poll(lambda s=status, w=words: _banner(browser) == (s, w),  # type: ignore[misc]
                 f"the banner to show {status}: {words}", SHOWN_WITHIN_S)  # fmt: skip
            assert _read(browser, "#scans td.words")[0] == words
        listed = _read(browser, "#scans td.words")
        assert listed[:5] == [
            "unknown part NOT-A-PART",
            "quantity 3 for the next scan",
            "serial SN0001 already shipped",
            "unknown part NOT-A-PART",
            f"{SERIAL_CODE} OK",
        ]
        [qty] = _read(browser, '#pending li[data-pending="qty"]')
        assert qty is not None
        assert re.fullmatch(r"QTY 3 · \d+ s", qty), qty
        # Low parts are read again at most every 2 s: the list catches up with the ledger.
        low = _low_parts(shop.line, "PACK-1")
        assert low, "the shipped pump's components went below zero"
        poll(lambda: set(_read(browser, "#low li[data-part]", "data-part")) == low,
             f"the page to list the low parts {sorted(low)}")  # fmt: skip
        poll(lambda: _read(browser, "#broker", "data-connected") == ["true"], "the broker shown up")
        _save_screenshot(browser, tmp_path)

        # A scanner unplugged shows as disconnected, and as connected again once it is back.
        browser.get(f"{shop.base}/station/SCRAP-1")
        poll(lambda: _scanner_state(browser, "scrap") == "connected", "the scrap page")
        shop.scrap.unplug()
        poll(lambda: _scanner_state(browser, "scrap") == "disconnected", "scrap shown unplugged")
        shop.scrap.plug()
        poll(lambda: _scanner_state(browser, "scrap") == "connected", "scrap shown back", 30)

        browser.get(f"{shop.base}/")
        poll(lambda: _read(browser, '.tile[data-station="PACK-1"] div') == [
            "unknown part NOT-A-PART"], "the overview's PACK-1 tile")  # fmt: skip


def _save_screenshot(browser: Any, directory: Path) -> None:
    """Saved with every run; EDGE_SCREENSHOTS=docs copies it into the README's docs/."""
    shot = directory / "station.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    target = os.environ.get("EDGE_SCREENSHOTS")
    if target:
        shutil.copyfile(shot, REPO / target / "station.png")


def _metrics(base: str) -> dict[str, Any]:
    status, text = get(f"{base}/metrics")
    assert status == 200
    return {family.name: family for family in text_string_to_metric_families(text)}


def _samples(family: Any, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(s.labels.items())): s.value for s in family.samples if s.name == name}


def test_metrics_count_what_the_journal_holds_and_healthz_answers(shop: Shop) -> None:
    for code in ("NOT-A-PART-2", f"(01){SHIP_GTIN}(21)SN0100", "RSN:NOT-HERE", "NOT-A-PART-2"):
        shop.scan(shop.pack, code)
    metrics = _metrics(shop.base)
    counted = {
        (labels["station"], labels["status"], labels["reason"]): value
        for labels, value in (
            (dict(key), value) for key, value in _samples(metrics["edge_scans"],
                                                          "edge_scans_total").items()
        )
    }  # fmt: skip
    journal = shop.journal_counts()
    assert counted == journal
    assert journal[("PACK-1", "rejected", "reason-not-scrap-station")] >= 1
    # This daemon committed every journaled scan: each read-to-commit time is in the histogram.
    # (The writer answers the operator first and tells its timings just after.)
    total = sum(journal.values())

    def timed() -> bool:
        now = _metrics(shop.base)
        latency = _samples(now["edge_commit_latency_seconds"], "edge_commit_latency_seconds_count")
        batch = _samples(now["edge_commit_batch_scans"], "edge_commit_batch_scans_sum")
        return latency[()] == total and batch[()] == total

    poll(timed, f"the histograms to hold the {total} journaled scans")
    [newest] = shop.line.rows("SELECT max(at) FROM scans WHERE station = 'PACK-1'")
    last = _samples(metrics["edge_last_scan_timestamp_seconds"],
                    "edge_last_scan_timestamp_seconds")  # fmt: skip
    assert last[(("station", "PACK-1"),)] == pytest.approx(datetime.fromisoformat(newest[0])
                                                           .timestamp())  # fmt: skip
    connected = _samples(metrics["edge_scanner_connected"], "edge_scanner_connected")
    assert connected[(("scanner", "pack"), ("station", "PACK-1"))] == 1
    assert metrics["edge_scan_queue_depth"].samples[0].value == 0

    def delivered() -> bool:
        now = _metrics(shop.base)
        [unpublished] = shop.line.rows("SELECT count(*) FROM outbox WHERE published_at IS NULL")[0]
        return (
            now["edge_relay_connected"].samples[0].value == 1
            and now["edge_outbox_backlog"].samples[0].value == 0
            and unpublished == 0
        )

    poll(delivered, "the relay connected and the outbox delivered, as /metrics tells", 30)
    _check_readme_rules(set(metrics))

    assert get(f"{shop.base}/healthz") == (200, "ok\n")
    assert get(f"{shop.base}/nowhere")[0] == 404
    assert get(f"{shop.base}/api/station/NO-SUCH")[0] == 404
    assert get(f"{shop.base}/events?station=NO-SUCH")[0] == 404


def _check_readme_rules(served: set[str]) -> None:
    """The README's scrape config and alert rules parse, and name metrics /metrics serves."""
    yaml = pytest.importorskip("yaml", reason="pyyaml is in the test extra")
    scrape, rules = (yaml.safe_load(block) for block in
                     blocks("yaml", "### Metrics"))  # fmt: skip
    [job] = scrape["scrape_configs"]
    assert job["job_name"] == "backflush-edge"
    assert all(":" in target for target in job["static_configs"][0]["targets"])
    [group] = rules["groups"]
    alerts = {rule["alert"]: rule for rule in group["rules"]}
    assert set(alerts) == {"EdgeScannerDisconnected", "EdgeBacklogGrowing",
                           "EdgeNoScansDuringShift"}  # fmt: skip
    for name, rule in alerts.items():
        named = set(re.findall(r"\bedge_[a-z_]+", rule["expr"]))
        assert named, name
        assert named <= served, (name, named - served)
        assert re.fullmatch(r"\d+m", rule["for"]), name
        assert rule["annotations"]["summary"], name
