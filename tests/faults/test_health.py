"""/healthz through a storage fault: 200 while the writer commits, 503 with the reason while
the database's disk is below its floor, 200 again once space returns (a real tmpfs)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.broker import Mosquitto, poll
from tests.faults.conftest import ACK, NAK, SHIP_GTIN, EdgeRun, PtyScanner, SmallDisk
from tests.station_view import answering, get, view_line


def _writable(base: str) -> float:
    families = {f.name: f for f in text_string_to_metric_families(get(f"{base}/metrics")[1])}
    return families["edge_database_writable"].samples[0].value


def _scan(scanner: PtyScanner, code: str) -> int:
    heard = scanner.heard_count()
    scanner.type(code)
    return scanner.wait_heard(heard + 1)[-1]


def test_healthz_is_503_with_its_reason_while_the_disk_is_below_the_floor(
    make_broker: Callable[..., Mosquitto],
    pack_scanner: PtyScanner,
    small_disk: SmallDisk,
    tmp_path: Path,
) -> None:
    line, base = view_line(tmp_path, make_broker(), [pack_scanner],
                           database=small_disk.mount / "edge.db", min_free_mb=8)  # fmt: skip
    assert base is not None
    run = EdgeRun(line, tmp_path / "edge-run.log")
    try:
        run.wait_log(r"scanner pack connected:")
        poll(lambda: answering(base), "the display to answer")
        assert _scan(pack_scanner, f"(01){SHIP_GTIN}(21)H1") == ACK
        assert get(f"{base}/healthz") == (200, "ok\n")

        small_disk.fill(leave_mb=4)  # room to write, but below database.min_free_mb
        status, reason = get(f"{base}/healthz")
        assert status == 503
        assert "below database.min_free_mb" in reason, reason
        assert _scan(pack_scanner, f"(01){SHIP_GTIN}(21)H2") == NAK
        # The refused scan is counted as held just after its operator heard the bad read.
        held = (503, "the database cannot be written (free disk space is below "
                     "database.min_free_mb); 1 scans held in memory\n")  # fmt: skip
        poll(lambda: get(f"{base}/healthz") == held, "/healthz to tell the held scan")
        assert _writable(base) == 0

        small_disk.free_up()  # the writer journals the held scan and commits again
        poll(lambda: get(f"{base}/healthz") == (200, "ok\n"), "/healthz to be 200 again")
        assert _writable(base) == 1
        assert _scan(pack_scanner, f"(01){SHIP_GTIN}(21)H3") == ACK
        assert run.terminate() == 0, run.log_text()
    finally:
        if run.process.poll() is None:
            run.kill()
