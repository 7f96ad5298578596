"""``edge demo``: the real daemon pipeline with virtual scanners, no hardware, no broker.

It writes a config with three stations, each bound to a serial scanner whose
port is a pseudo-terminal (the kernel's virtual serial line), imports the
demo CSVs shipped in ``edge/demo/data/``, starts the daemon's readers and writer, types a
scripted shift of scans into the scanners, listens for the good/bad-read
bytes the daemon writes back after each commit, and prints what happened.
Events stay in the outbox: with no broker configured nothing is sent.
"""

from __future__ import annotations

import os
import select
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from pathlib import Path

from edge.cli.terminal import render_table
from edge.config import load_config
from edge.demo import DEMO_DATA
from edge.domain.events import summarize
from edge.masterdata.bom import import_bom
from edge.masterdata.items import import_items
from edge.masterdata.stock import import_stock
from edge.runtime.bootstrap import build_service
from edge.runtime.clock import SystemClock
from edge.runtime.daemon import Daemon
from edge.service import InventoryService
from edge.store import queries

GS = "\x1d"
ACK, NAK = b"\x06", b"\x15"
WAIT_S = 10.0
STATIONS = {"PACK-1": "ship", "SCRAP-1": "scrap", "BUILD-1": "build"}

# (station, code, what the operator is doing)
SHIFT: tuple[tuple[str, str, str], ...] = (
    ("PACK-1", "09506000134352", "ship one pump by its GTIN"),
    ("PACK-1", "QTY:2", "next scan counts twice"),
    ("PACK-1", "FG-PUMP-100", "ship two pumps by part number"),
    ("PACK-1", "(01)09506000134352(21)SN0001", "ship a serialized pump (GS1, human-readable)"),
    ("PACK-1", "(01)09506000134352(21)SN0001", "the scanner reads the same label twice"),
    ("PACK-1", f"]C1010950600013436910LOT42{GS}21SN200A", "ship a 200 W pump (GS1-128, batch)"),
    ("PACK-1", "(01)09506000134352(21)SN0001", "the serialized pump, scanned again later"),
    ("PACK-1", "CUST-4711", "ship by the customer's part number"),
    ("PACK-1", "VOID", "undo that last shipment"),
    ("SCRAP-1", "RSN:DAMAGED", "scrap reason for the next scan"),
    ("SCRAP-1", "RM-IMPELLER", "scrap a damaged impeller"),
    ("BUILD-1", "QTY:3", "build three motors ahead"),
    ("BUILD-1", "SA-MOTOR-100", "motors received, their parts backflushed"),
    ("PACK-1", "NOT-A-PART", "a label that is not ours"),
    ("PACK-1", "(01)09506000134353", "a GTIN with a wrong check digit"),
)


def _config_text(ports: dict[str, str]) -> str:
    lines = [
        '[site]\nid = "demo-plant"\nnode = "demo-edge"\n',
        '[database]\npath = "edge.db"\n',
        # The defaults, spelled out: see edge/deploy/edge.toml.
        '[inventory]\nkanban_reconcile = "report"\ncount_tolerance_pct = 5\n',
    ]
    for station, mode in STATIONS.items():
        lines.append(f'[[station]]\nid = "{station}"\nmode = "{mode}"\n')
    for station, port in ports.items():
        lines.append(
            f'[[scanner]]\nid = "{station.lower()}-scanner"\nstation = "{station}"\n'
            f'kind = "serial"\nurl = "{port}"\nterminator = "cr"\n'
            'feedback_good = "\\u0006"\nfeedback_bad = "\\u0015"\n'
        )
    return "\n".join(lines)


class VirtualScanner:
    """The far end of a pseudo-terminal: types codes, hears feedback bytes."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        self.port = os.ttyname(self._slave)

    def type(self, code: str) -> None:
        os.write(self.master, code.encode("utf-8") + b"\r")

    def heard(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.master], [], [], timeout)
        return os.read(self.master, 64) if ready else b""

    def close(self) -> None:
        os.close(self._slave)
        os.close(self.master)


def run_demo(data: Path | None, *, keep: bool = False) -> int:
    data = data or DEMO_DATA
    for name in ("items.csv", "bom.csv", "stock.csv"):
        if not (data / name).is_file():
            print(f"edge demo: {data / name} is missing (pass --data DIR)")
            return 2
    folder = Path(tempfile.mkdtemp(prefix="edge-demo-"))
    scanners = {station: VirtualScanner() for station in STATIONS}
    try:
        config_path = folder / "edge.toml"
        config_path.write_text(_config_text({s: v.port for s, v in scanners.items()}))
        service = build_service(load_config(config_path))
        _load_data(service, data)
        _run_shift(config_path, service, scanners)
        _show(service)
        service.engine.dispose()
        if keep:
            print(f"\nThe demo database is kept in {folder}; try:")
            print(f"  edge stock --config {config_path}")
    finally:
        for scanner in scanners.values():
            scanner.close()
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


def _heading(text: str) -> None:
    print(f"\n== {text} ==")


def _load_data(service: InventoryService, data: Path) -> None:
    _heading(f"Importing demo data from {data}")
    clock = SystemClock()
    print("items.csv:", import_items(service, data / "items.csv").describe("items"))
    print("bom.csv:  ", import_bom(service, data / "bom.csv").describe("bom"))
    print("stock.csv:", import_stock(service, data / "stock.csv", clock.moment()).describe("stock"))


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the daemon did not {what} within {WAIT_S:g} s")
        time.sleep(0.01)


def _journal_size(service: InventoryService) -> int:
    return len(queries.scans(service.engine, None))


def _journal_grew(service: InventoryService, before: int) -> bool:
    return _journal_size(service) > before


def _run_shift(
    config_path: Path, service: InventoryService, scanners: dict[str, VirtualScanner]
) -> None:
    _heading("A shift on three virtual serial scanners (edge run's readers and writer)")
    stop = threading.Event()
    daemon = Daemon(config_path, relay_factory=None, stop=stop)
    thread = threading.Thread(target=daemon.run, name="demo-daemon", daemon=True)
    thread.start()
    try:
        _wait(daemon.ready.is_set, "start")
        _wait(
            lambda: all(s.state == "connected" for s in daemon.scanners.values()),
            "open the virtual scanners",
        )
        rows = []
        for station, code, note in SHIFT:
            journaled = _journal_size(service)
            scanners[station].type(code)
            _wait(partial(_journal_grew, service, journaled), "journal a scan")
            scan = queries.scans(service.engine, 1)[0]
            heard = scanners[station].heard(0.5 if scan["status"] != "duplicate" else 0)
            beep = {ACK: "good beep", NAK: "bad beep"}.get(heard, "silence")
            result = scan["status"] + (f": {scan['reason']}" if scan["reason"] else "")
            rows.append((station, code.replace(GS, "<GS>"), result, beep, note))
        print(render_table(["station", "code", "journal", "scanner", "operator"], rows))
    finally:
        stop.set()
        thread.join(30)

    _heading("A delivery arrives: `edge receive PK-BOX-S 40`")
    moment = SystemClock().moment()
    service.transact(lambda inventory, _uow: inventory.receive("PK-BOX-S", Decimal(40), moment))
    print("received 40 x PK-BOX-S against its open reorder")


def _show(service: InventoryService) -> None:
    _heading("Stock (`edge stock`)")
    stock = queries.stock(service.engine)
    print(
        render_table(
            ["part", "on_hand", "on_order", "reorder_point", "uom", "state"],
            [(r.part, r.on_hand, r.on_order, r.reorder_point, r.uom, r.state) for r in stock],
        )
    )
    _heading("Events waiting for the broker (`edge events --pending`)")
    events = queries.events(service.engine, pending=True)
    print(
        render_table(
            ["seq", "type", "summary"],
            [(e["seq"], e["payload"]["type"], summarize(e["payload"])) for e in events],
        )
    )
    prefix = events[0]["topic"].rsplit("/", 2)[0] if events else "?"
    print(f"\n{len(events)} events are waiting to be published under {prefix}/event/...")
