"""``edge demo``: the real daemon pipeline with virtual scanners, no hardware, no broker.

It writes a config with five stations (ship, scrap, build, issue, receive),
each bound to a serial scanner whose port is a pseudo-terminal (the kernel's
virtual serial line), imports the demo CSVs shipped in ``edge/demo/data/``,
starts the daemon's readers and writer, types the scripted shift of
edge/demo/shift.py into the scanners (counting a part between scans),
listens for the good/bad-read bytes the daemon writes back after each
commit, and prints what happened with the tables the read commands print.
Events stay in the outbox: with no broker configured nothing is sent.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from edge.cli.reports import cards_table, stock_table, variance_text
from edge.cli.terminal import render_table
from edge.config import load_config
from edge.demo import DEMO_DATA
from edge.demo.shift import ISSUE_REASONS, STATIONS, VirtualScanner, type_shift, wait
from edge.domain.payloads import summarize
from edge.masterdata.bom import import_bom
from edge.masterdata.cards import import_cards
from edge.masterdata.items import import_items
from edge.masterdata.stock import import_stock
from edge.runtime.bootstrap import build_service
from edge.runtime.clock import SystemClock
from edge.runtime.daemon import Daemon
from edge.service import InventoryService
from edge.store import card_queries, queries, variance_query

REQUIRED = ("items.csv", "bom.csv", "stock.csv")  # and cards.csv when the folder has one


def _config_text(ports: dict[str, str]) -> str:
    reasons = ", ".join(f'"{reason}"' for reason in ISSUE_REASONS)
    lines = [
        '[site]\nid = "demo-plant"\nnode = "demo-edge"\n',
        '[database]\npath = "edge.db"\n',
        # An emptied kanban card's difference is posted, not only told (the default,
        # "report", leaves the book alone); the tolerance is the default, spelled out.
        '[inventory]\nkanban_reconcile = "adjust"\ncount_tolerance_pct = 5\n',
    ]
    for station, mode in STATIONS.items():
        extra = f"issue_reasons = [{reasons}]\n" if mode == "issue" else ""
        lines.append(f'[[station]]\nid = "{station}"\nmode = "{mode}"\n{extra}')
    for station, port in ports.items():
        lines.append(
            f'[[scanner]]\nid = "{station.lower()}-scanner"\nstation = "{station}"\n'
            f'kind = "serial"\nurl = "{port}"\nterminator = "cr"\n'
            'feedback_good = "\\u0006"\nfeedback_bad = "\\u0015"\n'
        )
    return "\n".join(lines)


def run_demo(data: Path | None, *, keep: bool = False) -> int:
    data = data or DEMO_DATA
    for name in REQUIRED:
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
            print(f"  edge variance --config {config_path}")
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
    # Cards last: a card's part must be an item, and the part's first reconciliation
    # starts at the use it has when its cards are loaded. A --data folder may have none.
    if (data / "cards.csv").is_file():
        print("cards.csv:", import_cards(service, data / "cards.csv").describe("cards"))


def _run_shift(
    config_path: Path, service: InventoryService, scanners: dict[str, VirtualScanner]
) -> None:
    _heading(
        f"A shift on {len(scanners)} virtual serial scanners (edge run's readers and writer), "
        "with counts (edge count)"
    )
    stop = threading.Event()
    daemon = Daemon(config_path, relay_factory=None, stop=stop)
    thread = threading.Thread(target=daemon.run, name="demo-daemon", daemon=True)
    thread.start()
    try:
        wait(daemon.ready.is_set, "start")
        wait(
            lambda: all(s.state == "connected" for s in daemon.scanners.values()),
            "open the virtual scanners",
        )
        print(type_shift(service, scanners))
    finally:
        stop.set()
        thread.join(30)

    _heading("A delivery arrives: `edge receive PK-BOX-S 40`")
    moment = SystemClock().moment()
    service.transact(lambda inventory, _uow: inventory.receive("PK-BOX-S", Decimal(40), moment))
    print("received 40 x PK-BOX-S against its open reorder")


def _show(service: InventoryService) -> None:
    _heading("Stock (`edge stock`)")
    print(stock_table(queries.stock(service.engine)))
    cards = card_queries.cards(service.engine, datetime.now(UTC))
    if cards:
        _heading("Kanban cards (`edge cards`)")
        print(cards_table(cards))
    reports = variance_query.variance(service.engine)
    if reports:
        _heading("Counts against consumption (`edge variance`)")
        print(variance_text(reports))
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
