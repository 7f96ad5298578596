"""``edge demo``: the real pipeline on a temporary database, with no hardware and no broker.

It writes a config for three stations, imports the demo CSVs from
``config/``, enters a scripted shift of scans through exactly the path
``edge scan`` uses, receives a delivery, and prints what happened.
"""

from __future__ import annotations

import shutil
import tempfile
from decimal import Decimal
from pathlib import Path

from edge.bootstrap import build_service
from edge.clock import SystemClock
from edge.config import load_config
from edge.domain.scanning import ScanInput
from edge.importer import import_bom, import_items, import_stock
from edge.service import InventoryService, PendingScan
from edge.store import queries
from edge.tables import render_table
from hardware.barcode import decode

GS = "\x1d"
DEFAULT_DATA = Path(__file__).resolve().parent.parent / "config"

DEMO_CONFIG = """\
[site]
id = "demo-plant"
node = "demo-edge"

[database]
path = "edge.db"

[[station]]
id = "PACK-1"
mode = "ship"

[[station]]
id = "SCRAP-1"
mode = "scrap"
scrap_reasons = ["DAMAGED", "WRONG-PART", "TEST"]

[[station]]
id = "BUILD-1"
mode = "build"
"""

# (station, code, what the operator is doing)
SHIFT: tuple[tuple[str, str, str], ...] = (
    ("PACK-1", "09506000134352", "ship one pump by its GTIN"),
    ("PACK-1", "QTY:2", "next scan counts twice"),
    ("PACK-1", "FG-PUMP-100", "ship two pumps by part number"),
    ("PACK-1", "(01)09506000134352(21)SN0001", "ship a serialized pump (GS1, human-readable)"),
    ("PACK-1", "(01)09506000134352(21)SN0001", "the same serial again"),
    ("PACK-1", f"]C1010950600013436910LOT42{GS}21SN200A", "ship a 200 W pump (GS1-128, batch)"),
    ("PACK-1", "CUST-4711", "ship by the customer's part number"),
    ("PACK-1", "VOID", "undo that last shipment"),
    ("SCRAP-1", "RSN:DAMAGED", "scrap reason for the next scan"),
    ("SCRAP-1", "RM-IMPELLER", "scrap a damaged impeller"),
    ("BUILD-1", "QTY:3", "build three motors ahead"),
    ("BUILD-1", "SA-MOTOR-100", "motors received, their parts backflushed"),
    ("PACK-1", "NOT-A-PART", "a label that is not ours"),
    ("PACK-1", "(01)09506000134353", "a GTIN with a wrong check digit"),
)


def run_demo(data: Path | None, *, keep: bool = False) -> int:
    data = data or DEFAULT_DATA
    for name in ("items.csv", "bom.csv", "stock.csv"):
        if not (data / name).is_file():
            print(f"edge demo: {data / name} is missing (pass --data DIR)")
            return 2
    folder = Path(tempfile.mkdtemp(prefix="edge-demo-"))
    try:
        (folder / "edge.toml").write_text(DEMO_CONFIG)
        service = build_service(load_config(folder / "edge.toml"))
        _load_data(service, data)
        _run_shift(service)
        _show(service)
        if keep:
            print(f"\nThe demo database is kept in {folder}; try:")
            print(f"  edge stock --config {folder / 'edge.toml'}")
        service.engine.dispose()
    finally:
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


def _run_shift(service: InventoryService) -> None:
    _heading("Scans (entered as `edge scan --station ID CODE` would)")
    clock = SystemClock()
    rows = []
    for station, code, note in SHIFT:
        data = code.encode("utf-8")
        scan = ScanInput(scanner="demo", station=station, data=data, at=clock.moment())
        [outcome] = service.process_scans([PendingScan(scan, decode(data))])
        shown = code.replace(GS, "<GS>")
        result = outcome.status if outcome.good else f"{outcome.status}: {outcome.reason}"
        rows.append((station, shown, result, outcome.message, note))
    print(render_table(["station", "code", "result", "what it did", "operator"], rows))

    _heading("A delivery arrives: `edge receive PK-BOX-S 40`")
    moment = clock.moment()
    service.transact(lambda inventory, _uow: inventory.receive("PK-BOX-S", Decimal(40), moment))
    print("received 40 x PK-BOX-S against its open reorder")


def _show(service: InventoryService) -> None:
    from edge.cli import summarize_event  # noqa: PLC0415 - shared formatting of events

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
            [(e["seq"], e["payload"]["type"], summarize_event(e["payload"])) for e in events],
        )
    )
    print(
        f"\n{len(events)} events would be published to {events[0]['topic'].rsplit('/', 2)[0]}/..."
    )
