"""The demo's scripted shift: its stations, what is scanned at each, the counts, how it is typed.

The shift has two parts. The pumps: shipments by every kind of label, a
duplicate read, a void, scrap with its reason, a build, and labels that are
not ours. Then backflush's blind spots, made visible (SPEC §13):

* an issue station, where a part issued without its ``RSN:`` is refused and
  issued once the reason is scanned;
* a kanban part: 23 fans backflush 92 spring clips, then clip card A is
  scanned empty. One container of 100 was used, 92 were transacted: the
  reconciliation is -8, posted (``kanban_reconcile = "adjust"``), and the dock
  scans the card again as the full container arrives;
* a wrong BOM: the line uses 0.55 m of seal cord per fan where the BOM says
  0.5, so each count of the cord finds 10 % of the use since the previous
  count missing. Three rounds of fans and a count each, and ``edge variance``
  names the cord a BOM suspect with 0.55 m implied per fan.

Scans are typed into the virtual scanners and go through the daemon; counts
go through the domain as ``edge count`` posts them, while the daemon runs.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any, Final

from edge.cli.terminal import cell, render_table
from edge.domain.controls import VOID, qty_code, reason_code
from edge.domain.inventory import Inventory
from edge.domain.payloads import summarize
from edge.domain.posting import Rejection
from edge.domain.quantity import format_quantity, mul, sub
from edge.domain.usage import CountRecord, variance_pct
from edge.runtime.clock import SystemClock
from edge.service import InventoryService
from edge.store import queries
from edge.store.unit_of_work import SqlUnitOfWork

GS = "\x1d"
ACK, NAK = b"\x06", b"\x15"
WAIT_S = 10.0

# Each station with its mode; every one has its own virtual scanner.
STATIONS: Final = {
    "PACK-1": "ship",
    "SCRAP-1": "scrap",
    "BUILD-1": "build",
    "LAB-1": "issue",
    "DOCK-1": "receive",
}
ISSUE_REASONS: Final = ("ENGINEERING", "TEST", "KAIZEN")  # LAB-1's issue_reasons

# What the line really uses beyond the BOM: 0.55 m of seal cord per fan where the BOM says
# 0.5, so a count finds this share of the cord's use since the previous count missing.
CORD = "RM-SEAL-CORD"
CORD_MISSING: Final = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class Scan:
    """A code typed into a station's scanner, and what the operator is doing."""

    station: str
    code: str
    note: str


@dataclass(frozen=True, slots=True)
class Count:
    """A count of ``part`` that finds ``missing`` of its use since its previous count gone."""

    part: str
    missing: Decimal
    note: str


Step = Scan | Count


def _fans(count: int, note: str) -> tuple[Step, ...]:
    return (Scan("PACK-1", qty_code(Decimal(count)), "next scan counts that often"),
            Scan("PACK-1", "FG-FAN-10", note))  # fmt: skip


def _cord_count(round_: int) -> Count:
    return Count(CORD, CORD_MISSING, f"round {round_}: the cord is counted, 10 % of its use short")


PUMPS: tuple[Step, ...] = (
    Scan("PACK-1", "09506000134352", "ship one pump by its GTIN"),
    Scan("PACK-1", qty_code(Decimal(2)), "next scan counts twice"),
    Scan("PACK-1", "FG-PUMP-100", "ship two pumps by part number"),
    Scan("PACK-1", "(01)09506000134352(21)SN0001", "ship a serialized pump (GS1, human-readable)"),
    Scan("PACK-1", "(01)09506000134352(21)SN0001", "the scanner reads the same label twice"),
    Scan("PACK-1", f"]C1010950600013436910LOT42{GS}21SN200A", "ship a 200 W pump (GS1-128, batch)"),
    Scan("PACK-1", "(01)09506000134352(21)SN0001", "the serialized pump, scanned again later"),
    Scan("PACK-1", "CUST-4711", "ship by the customer's part number"),
    Scan("PACK-1", VOID, "undo that last shipment"),
    Scan("SCRAP-1", reason_code("DAMAGED"), "scrap reason for the next scan"),
    Scan("SCRAP-1", "RM-IMPELLER", "scrap a damaged impeller"),
    Scan("BUILD-1", qty_code(Decimal(3)), "build three motors ahead"),
    Scan("BUILD-1", "SA-MOTOR-100", "motors received, their parts backflushed"),
    Scan("PACK-1", "NOT-A-PART", "a label that is not ours"),
    Scan("PACK-1", "(01)09506000134353", "a GTIN with a wrong check digit"),
)

BLIND_SPOTS: tuple[Step, ...] = (
    Scan("LAB-1", "RM-BEARING", "a bearing for the test bench, but no RSN: scanned"),
    Scan("LAB-1", reason_code("TEST"), "the reason for the next issue"),
    Scan("LAB-1", "RM-BEARING", "the bearing issued to the test bench"),
    *_fans(23, "ship 23 fans: 92 clips and 11.5 m of seal cord backflushed"),
    Scan("PACK-1", "KB-CLIP-A", "clip container A is empty: one container of 100 used"),
    Scan("DOCK-1", "KB-CLIP-A", "its full container arrives at the dock"),
    _cord_count(1),
    *_fans(10, "ship 10 more fans"),
    _cord_count(2),
    *_fans(10, "ship 10 more fans"),
    _cord_count(3),
)

SHIFT: tuple[Step, ...] = (*PUMPS, *BLIND_SPOTS)

# The events whose summary the shift table adds to a scan's fate: what the scan did beyond
# the ledger (the events list below the table shows every event).
_TOLD = ("issue", "kanban-empty", "receipt")


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


def wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the daemon did not {what} within {WAIT_S:g} s")
        time.sleep(0.01)


def type_shift(service: InventoryService, scanners: dict[str, VirtualScanner]) -> str:
    """Every step of :data:`SHIFT`, each one done before the next; the table of what happened.

    The daemon must be running and its scanners connected.
    """
    rows = [
        _scan(service, scanners[step.station], step)
        if isinstance(step, Scan)
        else _count(service, step)
        for step in SHIFT
    ]
    return render_table(["station", "code", "journal", "scanner", "operator"], rows)


def _journal_size(service: InventoryService) -> int:
    return len(queries.scans(service.engine, None))


def _journal_grew(service: InventoryService, before: int) -> bool:
    return _journal_size(service) > before


def _newest_event(service: InventoryService) -> int:
    events = queries.events(service.engine, pending=True)
    return events[-1]["seq"] if events else 0


def _scan(service: InventoryService, scanner: VirtualScanner, step: Scan) -> tuple[object, ...]:
    journaled, seen = _journal_size(service), _newest_event(service)
    scanner.type(step.code)
    # The scan is journaled in the transaction that posts it: its events are written too.
    wait(partial(_journal_grew, service, journaled), "journal a scan")
    scan = queries.scans(service.engine, 1)[0]
    heard = scanner.heard(0.5 if scan["status"] != "duplicate" else 0)
    beep = {ACK: "good beep", NAK: "bad beep"}.get(heard, "silence")
    told = [
        _told(event["payload"])
        for event in queries.events(service.engine, pending=True)
        if event["seq"] > seen and event["payload"]["type"] in _TOLD
    ]
    result = "; ".join([scan["status"] + (f": {scan['reason']}" if scan["reason"] else ""), *told])
    return (step.station, step.code.replace(GS, "<GS>"), result, beep, step.note)


def _told(payload: Mapping[str, Any]) -> str:
    """An event as the shift table tells it: its type, its summary and the part's on hand."""
    on_hand = payload.get("on_hand")
    after = "" if on_hand is None else f", on hand {cell(on_hand)}"
    return f"{payload['type']} {summarize(payload)}{after}"


def _count(service: InventoryService, step: Count) -> tuple[object, ...]:
    at = SystemClock().moment()

    def operation(inventory: Inventory, _uow: SqlUnitOfWork) -> CountRecord:
        # What the counter finds: the book less the share of the use since the previous count
        # that really left the shelf without a transaction.
        balance = inventory.store.balance(step.part)
        counted = sub(balance.on_hand, mul(step.missing, balance.consumed_since_count))
        record = inventory.count(step.part, counted, at).count
        assert record is not None  # a count's Posted carries it
        return record

    try:
        record = service.transact(operation)
    except Rejection as rejection:  # a --data folder without the part
        return ("(count)", step.part, f"rejected: {rejection.reason}", None, step.note)
    used = record.used.total
    pct = variance_pct(record.variance, used)
    share = "" if pct is None else f", {format_quantity(pct)} % of {format_quantity(used)} used"
    found = (f"book {format_quantity(record.book)}, variance "
             f"{format_quantity(record.variance)}{share}")  # fmt: skip
    return ("(count)", f"{step.part} {format_quantity(record.counted)}", found, None, step.note)
