"""`edge status` against a running daemon (the station display off), a stopped one and a
killed one: its screen, its JSON and its exit status."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.broker import Mosquitto, poll
from tests.faults.conftest import NAK, EdgeRun, PtyScanner
from tests.station_view import edge_status, view_line


@pytest.fixture
def pack(tmp_path: Path) -> PtyScanner:
    scanner = PtyScanner("pack", "PACK-1", tmp_path / "by-id" / "usb-Acme_Scanner_PACK-if00")
    scanner.link.parent.mkdir()
    scanner.plug()
    yield scanner
    scanner.unplug()


def _running(config: Path) -> bool:
    return edge_status(config).returncode == 0


def test_edge_status_tells_the_running_daemon_and_exits_1_once_it_stopped(
    make_broker: Callable[..., Mosquitto], pack: PtyScanner, tmp_path: Path
) -> None:
    line, base = view_line(tmp_path, make_broker(), [pack], display=False)
    assert base is None
    never = edge_status(line.config_path)
    assert never.returncode == 1
    assert "no edge daemon runs on" in never.stderr

    run = EdgeRun(line, tmp_path / "edge-run.log")
    try:
        run.wait_log(r"scanner pack connected:")
        heard = pack.heard_count()
        pack.type("NOT-A-PART")
        assert pack.wait_heard(heard + 1)[-1] == NAK

        def told() -> dict[str, object] | None:
            answer = edge_status(line.config_path, "--json")
            status = json.loads(answer.stdout) if answer.returncode == 0 else None
            last = status and status["stations"][0]["last_scan"]
            ready = last and status["broker"]["connected"]
            return status if ready else None

        status = poll(told, "edge status to tell the scan and the broker")
        assert status["running"] is True
        assert status["pid"] == run.process.pid
        assert status["display"] is None
        assert status["scanners"] == [{"scanner": "pack", "station": "PACK-1",
                                       "state": "connected", "connected": True,
                                       "detail": status["scanners"][0]["detail"]}]  # fmt: skip
        [pack_station, scrap_station] = status["stations"]
        assert pack_station["last_scan"]["words"] == "unknown part NOT-A-PART"
        assert pack_station["scans"] == {"accepted": 0, "rejected": 1, "duplicate": 0}
        assert scrap_station["last_scan"] is None
        assert status["queue"] == 0
        assert set(status["backlog"]) == {"events_pending", "stock_pending", "set_aside"}

        screen = edge_status(line.config_path)
        assert screen.returncode == 0
        text = screen.stdout
        assert re.search(r"^  pack +PACK-1 +connected", text, re.MULTILINE), text
        assert re.search(r"^  PACK-1 +ship .* rejected: unknown part NOT-A-PART", text, re.M)
        assert re.search(r"^  SCRAP-1 +scrap +no scan yet", text, re.MULTILINE), text
        assert "broker    mqtt connected" in text
        assert "display   off" in text

        assert run.terminate() == 0, run.log_text()
        stopped = edge_status(line.config_path)
        assert stopped.returncode == 1
        assert "no edge daemon runs on" in stopped.stderr
        assert json.loads(edge_status(line.config_path, "--json").stdout)["running"] is False

        # Killed, the daemon leaves its status file behind: the pid in it is gone.
        run = EdgeRun(line, tmp_path / "edge-run.log")
        run.wait_log(r"scanner pack connected:")
        poll(lambda: _running(line.config_path), "edge status to see the new daemon")
        run.kill()
        killed = edge_status(line.config_path)
        assert killed.returncode == 1
        assert f"process {run.process.pid}, which wrote edge.db.status.json, has exited" in (
            killed.stderr
        )
    finally:
        if run.process.poll() is None:
            run.kill()
