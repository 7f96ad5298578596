"""The in-memory store against the real one: one sequence of scans and commands
run through :class:`~tests.unit.fake_store.InMemoryStore` and through
:class:`~edge.store.unit_of_work.SqlUnitOfWork` on a real SQLite file leaves
the same catalog, balances, ledger, transactions, reorders, journal, serials,
structures, station state, events and stock snapshots.

Event ids are random UUIDs, so each is compared as the seq of the event it
names. Both sides run on clocks that step alike, so times compare exactly
(except a structure's ``created_at``, which the real store takes from the
system clock).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any, Protocol, TypeVar

import pytest

from edge.domain import exactjson
from edge.domain.bom import BomCycleError
from edge.domain.inventory import Inventory
from edge.domain.model import BomLine, Item
from edge.domain.ports import Moment, PendingControl
from edge.domain.quantity import to_storage
from edge.domain.scanning import ScanInput, ScanOutcome
from edge.domain.timestamps import rfc3339
from edge.store import schema
from edge.store.outbox import stock_parts, stock_rows
from edge.store.rows import BALANCE_COLUMNS, balance_values, count_values
from hardware.barcode import decode
from tests.shop_floor import BUILD, SCRAP, SHIP, ShopFloor, SteppingClock
from tests.unit.fake_store import TEST_IDENTITY, ConstraintError, InMemoryStore
from tests.unit.pump_catalog import BOM, FG_GTIN, HOUSING_GTIN, ITEMS, OPENING, pump_store
from tests.unit.station_scans import StationScans

T = TypeVar("T")
D = Decimal


class Floor(Protocol):
    """What the script needs of a floor: :class:`ShopFloor` and :class:`InMemoryFloor`."""

    @property
    def clock(self) -> SteppingClock: ...

    def scan(self, station: str, code: str | bytes, *, scanner: str = "cli") -> ScanOutcome: ...

    def scan_batch(
        self, codes: list[tuple[str, str | bytes]], *, scanner: str = "cli"
    ) -> list[ScanOutcome]: ...

    def run(self, operation: Callable[[Inventory, Moment], T]) -> T: ...


class InMemoryFloor:
    """:class:`ShopFloor`'s scans and commands, on the in-memory store."""

    def __init__(self, store: InMemoryStore, clock: SteppingClock) -> None:
        self.store = store
        self.clock = clock
        self._stations = StationScans(store, clock)

    def scan(self, station: str, code: str | bytes, *, scanner: str = "cli") -> ScanOutcome:
        [outcome] = self.scan_batch([(station, code)], scanner=scanner)
        return outcome

    def scan_batch(
        self, codes: list[tuple[str, str | bytes]], *, scanner: str = "cli"
    ) -> list[ScanOutcome]:
        outcomes = []
        for station, code in codes:
            data = code.encode("utf-8") if isinstance(code, str) else code
            read = ScanInput(scanner, station, data, self.clock.moment())
            outcomes.append(self._stations.process(read, decode(data)))
        return outcomes

    def run(self, operation: Callable[[Inventory, Moment], T]) -> T:
        with self.store.savepoint():
            return operation(Inventory(self.store, TEST_IDENTITY), self.clock.moment())


def _cancel_oldest_housing_reorder(inventory: Inventory, at: Moment) -> str:
    return inventory.cancel_reorder(inventory.store.open_reorders("R-HOUSING")[0].id, at)


def script(floor: Floor) -> list[Any]:
    """Scans and commands touching every rule and table; what each returned."""
    results: list[Any] = [
        floor.scan(SHIP, "QTY:41"),
        floor.scan(SHIP, "FG-100"),  # backflush, low-stock (2), a reorder
        floor.scan(SCRAP, "RSN:DAMAGED"),
        floor.scan(SCRAP, "KIT-1"),
        floor.scan(BUILD, "QTY:2"),
        floor.scan(BUILD, "SUB-200", scanner="build-1-serial"),
        floor.scan(SHIP, f"(01){FG_GTIN}(10)LOT-7(21)SN-1"),
        floor.scan(SHIP, f"]C101{FG_GTIN}21SN-1"),  # serial already shipped
    ]
    floor.clock.advance(2.5)
    results += [
        floor.scan(SHIP, "VOID"),  # frees SN-1
        floor.scan(SHIP, "VOID"),  # already voided
        floor.scan(SHIP, b"NO-\xffPART"),
        floor.scan(SCRAP, f"(01){HOUSING_GTIN}(30)12"),
        floor.run(lambda inv, at: inv.receive("R-HOUSING", D(30), at).txn_id),
        floor.run(lambda inv, at: inv.count("R-SCREW", D("800.125"), at).txn_id),
        # A count taken a second earlier: what was used since is not this count's.
        floor.run(
            lambda inv, at: (
                inv.count("R-GASKET", D(5), at, counted_at=at.wall - timedelta(seconds=1)).txn_id
            )
        ),
        *floor.scan_batch([(SHIP, "QTY:25"), (SHIP, "R-HOUSING"), (SHIP, "CUST-77")]),
        floor.run(_cancel_oldest_housing_reorder),
        floor.run(lambda inv, at: inv.build("SUB-200", D("0.5"), at).lines),
        floor.run(lambda inv, at: inv.receive("R-WIRE", D("10.5"), at).txn_id),
        floor.scan(SHIP, "QTY:3"),  # left pending
    ]
    floor.clock.advance(40)
    results.append(floor.scan(SCRAP, "RSN:TEST"))  # pending, with QTY expired at SHIP
    return results


# --- reading each side back in one shape -----------------------------------------------


def _labels(events: list[dict[str, Any]]) -> dict[str, str]:
    return {event["event_id"]: f"event {event['seq']}" for event in events}


def _relabel(value: Any, labels: dict[str, str]) -> Any:
    if isinstance(value, ScanOutcome):
        label = labels.get(value.event_id) if value.event_id is not None else None
        return (value.scan_id, value.status, value.reason, value.message, label)
    if isinstance(value, str) and value in labels:  # a returned event id
        return labels[value]
    return value


def _event(payload: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    # Each store makes its own stream UUID, as each database does.
    return (
        payload
        | {"stream": "the store's stream"}
        | {
            key: labels[payload[key]]
            for key in ("event_id", "voided_event_id")
            if payload.get(key) is not None
        }
    )


def _pending(control: PendingControl | None) -> tuple[Any, ...]:
    if control is None:
        return (None,) * 5
    at = control.at
    return (control.value, rfc3339(at.wall), at.monotonic, at.boot_id, control.scan_id)


def in_memory_state(store: InMemoryStore, results: list[Any]) -> dict[str, Any]:
    labels = _labels(store.events())
    q = to_storage
    return {
        "results": [_relabel(result, labels) for result in results],
        "catalog": {item.part: store.item(item.part) for item in ITEMS},
        "consumption": {item.part: store.bom_graph().consumption(item.part) for item in ITEMS},
        "balances": {part: balance_values(part, balance)[1:]
                     for part, balance in store.balance_rows().items()},
        "counts": [count_values(txn_id, record) for txn_id, record in store.counts()],
        "ledger": [(r.id, r.txn_id, r.part, q(r.quantity), r.kind, r.scan_id, r.bom_hash)
                   for r in store.ledger()],
        "transactions": [
            (t.id, t.kind, t.part, None if t.quantity is None else q(t.quantity), t.station,
             t.scanner, t.scan_id, t.bom_hash, t.reason, labels.get(t.event_id or ""),
             t.voided_by, rfc3339(t.at.wall), t.at.monotonic, t.at.boot_id)
            for t in store.transactions()
        ],
        "reorders": [(r.id, r.part, q(r.ordered), q(r.received), r.open, r.close_reason,
                      r.created_at, r.closed_at) for r in store.reorders()],
        "scans": [
            (j.id, j.scan.scanner, j.scan.station, j.scan.data, j.scan.code, j.scan.symbology,
             j.scan.gtin, j.scan.serial, j.scan.batch, j.status, j.reason,
             rfc3339(j.scan.at.wall), j.scan.at.monotonic, j.scan.at.boot_id)
            for j in store.scans()
        ],
        "serials": store.shipped_serials(),
        "structures": {h: exactjson.dumps([list(line) for line in lines])
                       for h, lines in store.structures().items()},
        "stations": {s: (store.station_state(s).mode, *_pending(store.station_state(s).qty),
                         *_pending(store.station_state(s).reason)) for s in (SHIP, SCRAP, BUILD)},
        "events": [(r.seq, r.type, r.created_at, _event(r.payload, labels))
                   for r in store.outbox()],
        "snapshots": store.snapshots(),
        "seq": store.last_seq(),
    }  # fmt: skip


def sqlite_state(floor: ShopFloor, results: list[Any]) -> dict[str, Any]:
    def rows(table: Any, *order: Any) -> list[Any]:
        return floor.rows(table, *order)

    outbox = rows(schema.outbox, schema.outbox.c.seq)
    labels = _labels([exactjson.loads(row.payload) for row in outbox])

    def catalog(_inventory: Inventory, uow: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        items = {item.part: uow.item(item.part) for item in ITEMS}
        return items, {item.part: uow.bom_graph().consumption(item.part) for item in ITEMS}

    items, consumption = floor.service.transact(catalog)
    states = {r.station: r for r in rows(schema.station_state)}
    return {
        "results": [_relabel(result, labels) for result in results],
        "catalog": items,
        "consumption": consumption,
        "balances": {r.part: tuple(bool(v) if c == "armed" else v
                                   for c, v in zip(BALANCE_COLUMNS[1:], r[1:], strict=True))
                     for r in rows(schema.balances)},
        "counts": [tuple(r) for r in rows(schema.counts, schema.counts.c.txn_id)],
        "ledger": [(r.id, r.txn_id, r.part, r.quantity, r.kind, r.scan_id, r.bom_hash)
                   for r in rows(schema.ledger, schema.ledger.c.id)],
        "transactions": [
            (t.id, t.kind, t.part, t.quantity, t.station, t.scanner, t.scan_id, t.bom_hash,
             t.reason, labels.get(t.event_id or ""), t.voided_by, t.at, t.mono, t.boot_id)
            for t in rows(schema.transactions, schema.transactions.c.id)
        ],
        "reorders": [(r.id, r.part, r.ordered, r.received, bool(r.open), r.close_reason,
                      r.created_at, r.closed_at)
                     for r in rows(schema.reorders, schema.reorders.c.id)],
        "scans": [
            (j.id, j.scanner, j.station, j.data, j.code, j.symbology, j.gtin, j.serial, j.batch,
             j.status, j.reason, j.at, j.mono, j.boot_id)
            for j in rows(schema.scans, schema.scans.c.id)
        ],
        "serials": {(r.gtin, r.serial): r.txn_id for r in rows(schema.shipped_serials)},
        "structures": {r.bom_hash: r.lines for r in rows(schema.bom_structures)},
        "stations": {
            s: (states[s].mode, states[s].qty, states[s].qty_at, states[s].qty_mono,
                states[s].qty_boot, states[s].qty_scan, states[s].reason, states[s].reason_at,
                states[s].reason_mono, states[s].reason_boot, states[s].reason_scan)
            for s in (SHIP, SCRAP, BUILD)
        },
        "events": [(r.seq, r.type, r.created_at, _event(exactjson.loads(r.payload), labels))
                   for r in outbox],
        # Rendered as the relay renders them when it publishes.
        "snapshots": {r.part: exactjson.loads(r.payload) for r in stock_rows(
            floor.engine, stock_parts(floor.engine))},
        "seq": outbox[-1].seq,
    }  # fmt: skip


def _csv(header: list[str], rows: list[list[str]]) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue()


def _items_csv(items: tuple[Item, ...]) -> str:
    def cell(value: Decimal | int | None) -> str:
        return "" if value is None else to_storage(Decimal(value))

    header = "part description uom stocked reorder_point reorder_qty max_qty order_multiple "
    header += "lead_time_days aliases"
    return _csv(header.split(), [
        [i.part, i.description, i.uom, str(i.stocked).lower(), cell(i.policy.reorder_point),
         cell(i.policy.reorder_qty), cell(i.policy.max_qty), cell(i.policy.order_multiple),
         cell(i.policy.lead_time_days), "|".join(i.aliases)]
        for i in items
    ])  # fmt: skip


def _bom_csv(lines: tuple[BomLine, ...]) -> str:
    return _csv(
        ["parent", "component", "qty_per", "scrap_pct"],
        [[b.parent, b.component, to_storage(b.qty_per), to_storage(b.scrap_pct)] for b in lines],
    )


def test_the_in_memory_store_behaves_as_the_sqlite_store(floor: ShopFloor) -> None:
    floor.load(_items_csv(ITEMS), _bom_csv(BOM))
    floor.opening(**{part: to_storage(quantity) for part, quantity in OPENING.items()})
    real = sqlite_state(floor, script(floor))

    clock = SteppingClock()
    store = pump_store(clock.moment())
    fake = in_memory_state(store, script(InMemoryFloor(store, clock)))

    assert fake.keys() == real.keys()
    for table in real:
        assert fake[table] == real[table], table
    # The script reached every kind of event and outcome it was written for.
    assert {event[1] for event in real["events"]} == {
        "count", "backflush", "low-stock", "reorder", "scrap", "build", "void", "scan-rejected",
        "receipt", "reorder-closed", "variance",
    }  # fmt: skip
    outcomes = [result[1:3] for result in real["results"] if isinstance(result, tuple)]
    assert ("rejected", "serial-already-shipped") in outcomes
    assert ("rejected", "already-voided") in outcomes
    assert ("rejected", "invalid-utf8") in outcomes
    assert real["serials"] == {}
    # Every balance is the sum of its part's ledger rows.
    sums: dict[str, Decimal] = {}
    for row in real["ledger"]:
        sums[row[2]] = sums.get(row[2], D(0)) + D(row[3])
    assert {part: to_storage(total) for part, total in sums.items()} == {
        part: balance[0] for part, balance in real["balances"].items()
    }
    assert real["stations"][SHIP][1] == "3"


def test_the_in_memory_catalog_refuses_what_an_import_refuses(clock: SteppingClock) -> None:
    store = pump_store(clock.moment())
    before = (store.item("R-SCREW"), store.bom_graph().consumption("FG-100"), store.last_seq())
    with pytest.raises(BomCycleError) as cycle:
        store.load_catalog([], [BomLine("R-SCREW", "FG-100", D(1))])
    assert cycle.value.cycle == ("FG-100", "KIT-1", "R-SCREW", "FG-100")
    with pytest.raises(ConstraintError, match="already belongs to 'FG-100'"):
        store.load_catalog([Item("R-SCREW", aliases=("CUST-77",))])
    with pytest.raises(ConstraintError, match="unknown part 'NO-SUCH-PART'"):
        store.load_catalog([], [BomLine("FG-100", "NO-SUCH-PART", D(1))])
    after = (store.item("R-SCREW"), store.bom_graph().consumption("FG-100"), store.last_seq())
    assert after == before
