"""The inventory rules on the in-memory store: BOM explosion, scrap, build, low-stock,
reorder quantities, receipts, counts, and the order and numbering of events.

Expected values are worked out from SPEC §3 and §5; ``test_store_parity.py``
shows the in-memory store gives the same results as the SQLite one.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest

from edge.domain.inventory import Inventory, Posted, Rejection
from edge.domain.model import BomLine, Item, ReorderPolicy
from tests.shop_floor import SteppingClock
from tests.unit.fake_store import TEST_IDENTITY, InMemoryStore
from tests.unit.pump_catalog import ONE_FG, UOM

D = Decimal


def dec(text: str | None) -> Decimal | None:
    return None if text is None else D(text)


def events_of(store: InMemoryStore, event_type: str) -> list[dict[str, object]]:
    return [event for event in store.events() if event["type"] == event_type]


def ledger(store: InMemoryStore, posted: Posted) -> list[tuple[str, Decimal]]:
    return [(row.part, row.quantity) for row in store.ledger(posted.txn_id)]


# --- explosion ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bom", "stocked", "part", "quantity", "issued", "structure"),
    [
        pytest.param(
            [("A", "B", "0.311", "0"), ("B", "C", "0.025", "10")], set(), "A", "51",
            [("C", "0.4361775")], '[["C",0.0085525]]', id="levels-multiply-exactly",
        ),
        pytest.param(
            [("A", "B", "0.311", "0"), ("B", "C", "0.025", "10")], {"B"}, "A", "51",
            [("B", "15.861")], '[["B",0.311]]', id="a-stocked-assembly-is-consumed-as-itself",
        ),
        pytest.param(
            [("A", "B", "2", "50"), ("B", "C", "3", "10")], set(), "A", "1",
            [("C", "9.9")], '[["C",9.9]]', id="scrap-pct-at-every-level",
        ),
        pytest.param(
            [("A", "D", "0.5", "0"), ("A", "C", "1", "0"), ("A", "B", "2", "0"),
             ("B", "C", "3", "0")], set(), "A", "2",
            [("C", "14"), ("D", "1")], '[["C",7],["D",0.5]]', id="paths-summed-sorted-by-part",
        ),
        pytest.param(
            [("A", "B", "0.5", "0"), ("B", "C", "0.5", "0"), ("C", "D", "0.5", "0")], set(),
            "A", "8", [("D", "1")], '[["D",0.125]]', id="three-phantom-levels",
        ),
        pytest.param(
            [("A", "B", "1", "0")], set(), "B", "3", [("B", "3")], '[["B",1]]',
            id="a-part-without-bom-is-issued-itself",
        ),
        pytest.param(
            [("A", "B", "1", "0")], {"A"}, "A", "2", [("A", "2")], '[["A",1]]',
            id="a-stocked-assembly-shipped-is-issued-itself",
        ),
    ],
)  # fmt: skip
def test_backflush_issues_the_exploded_bom_exactly(
    clock: SteppingClock,
    *,
    bom: list[tuple[str, str, str, str]],
    stocked: set[str],
    part: str,
    quantity: str,
    issued: list[tuple[str, str]],
    structure: str,
) -> None:
    store = InMemoryStore()
    parts = sorted({name for line in bom for name in line[:2]})
    store.load_catalog(
        [Item(name, stocked=name in stocked) for name in parts],
        [BomLine(parent, child, D(qty), D(pct)) for parent, child, qty, pct in bom],
    )
    posted = Inventory(store, TEST_IDENTITY).consume("backflush", part, D(quantity), clock.moment())
    expected = [(name, -D(amount)) for name, amount in issued]
    assert ledger(store, posted) == expected
    assert store.balances() == dict(expected)
    bom_hash = hashlib.sha256(structure.encode()).hexdigest()
    assert {row.bom_hash for row in store.ledger(posted.txn_id)} == {bom_hash}
    [event] = events_of(store, "backflush")
    assert (event["part"], event["quantity"], event["bom_hash"]) == (part, D(quantity), bom_hash)
    assert event["lines"] == [
        {"part": name, "quantity": D(amount), "uom": "EA"} for name, amount in issued
    ]
    assert list(store.structures()) == [bom_hash]


def test_one_structure_is_kept_per_hash(
    inventory: Inventory, store: InMemoryStore, clock: SteppingClock
) -> None:
    first = inventory.consume("backflush", "FG-100", D(1), clock.moment())
    second = inventory.consume("scrap", "FG-100", D(3), clock.moment(), reason="TEST")
    [(bom_hash, lines)] = store.structures().items()
    assert {row.bom_hash for row in store.ledger(first.txn_id)} == {bom_hash}
    assert {row.bom_hash for row in store.ledger(second.txn_id)} == {bom_hash}
    assert [(part, -quantity) for part, quantity in lines] == ONE_FG


# --- scrap and build ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "issued"),
    [
        pytest.param("R-HOUSING", [("R-HOUSING", D(-1))], id="purchased-part-leaves-stock"),
        pytest.param("SUB-200", [("SUB-200", D(-1))], id="stocked-assembly-leaves-stock"),
        pytest.param("FG-100", ONE_FG, id="non-stocked-assembly-consumes-its-components"),
        pytest.param(
            "KIT-1", [("R-GASKET", D("-0.55")), ("R-SCREW", D(-4))], id="phantom-consumes-its-own"
        ),
    ],
)
def test_scrap_issues_what_was_used(
    inventory: Inventory,
    store: InMemoryStore,
    clock: SteppingClock,
    part: str,
    issued: list[tuple[str, Decimal]],
) -> None:
    posted = inventory.consume("scrap", part, D(2), clock.moment(), reason="DAMAGED")
    assert ledger(store, posted) == [(name, quantity * 2) for name, quantity in issued]
    assert {row.kind for row in store.ledger(posted.txn_id)} == {"scrap"}
    [txn] = [row for row in store.transactions() if row.id == posted.txn_id]
    assert (txn.kind, txn.part, txn.quantity, txn.reason) == ("scrap", part, D(2), "DAMAGED")
    [event] = events_of(store, "scrap")
    assert (event["part"], event["quantity"], event["reason"]) == (part, 2, "DAMAGED")


@pytest.mark.parametrize(
    ("quantity", "rows"),
    [
        ("10", [("SUB-200", D(10)), ("R-SCREW", D(-20)), ("R-WIRE", D("-3.11"))]),
        ("0.5", [("SUB-200", D("0.5")), ("R-SCREW", D(-1)), ("R-WIRE", D("-0.1555"))]),
    ],
)
def test_build_receives_the_assembly_and_issues_its_own_bom(
    inventory: Inventory,
    store: InMemoryStore,
    clock: SteppingClock,
    quantity: str,
    rows: list[tuple[str, Decimal]],
) -> None:
    posted = inventory.build("SUB-200", D(quantity), clock.moment())
    assert ledger(store, posted) == rows
    assert store.balance("SUB-200").on_hand == 20 + D(quantity)
    assert store.balance("R-WIRE").on_hand == rows[2][1]
    [event] = events_of(store, "build")
    assert event["lines"] == [
        {"part": part, "quantity": -qty, "uom": UOM[part]} for part, qty in rows[1:]
    ]
    assert (event["station"], event["scanner"], event["scan_id"]) == (None, None, None)


@pytest.mark.parametrize("part", ["KIT-1", "FG-100", "R-GASKET", "NO-SUCH-PART"])
def test_only_a_stocked_assembly_can_be_built(
    inventory: Inventory, store: InMemoryStore, clock: SteppingClock, part: str
) -> None:
    before = (store.balances(), store.last_seq(), len(store.transactions()))
    with pytest.raises(Rejection) as excinfo:
        inventory.build(part, D(1), clock.moment())
    assert excinfo.value.reason == "not-buildable"
    assert (store.balances(), store.last_seq(), len(store.transactions())) == before


# --- low-stock ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("point", "opening", "steps", "fired", "armed"),
    [
        pytest.param("10", "50", ["-45"], [("5", False)], False, id="falls-to-below-the-point"),
        pytest.param("10", "50", ["-40"], [("10", False)], False, id="at-the-point-fires"),
        pytest.param("10", "50", ["-39"], [], True, id="above-the-point-is-quiet"),
        pytest.param("10", "50", ["-45", "-2"], [("5", False)], False, id="quiet-while-disarmed"),
        pytest.param(
            "10", "50", ["-45", "=10", "=11", "-1"], [("5", False), ("10", False)], False,
            id="re-arms-only-above-the-point",
        ),
        pytest.param("10", "50", ["-60"], [("-10", True)], False, id="point-and-zero-one-event"),
        pytest.param(
            "10", "50", ["-45", "-6", "-1"], [("5", False), ("-1", True)], False,
            id="negative-fires-while-disarmed-once",
        ),
        pytest.param(
            "10", "50", ["-60", "=5", "=20", "-15"], [("-10", True), ("5", False)], False,
            id="re-arms-above-the-point-after-negative",
        ),
        pytest.param(None, "1", ["-1", "-1"], [("-1", True)], True, id="negative-without-point"),
        pytest.param(None, "0", ["-0.5"], [("-0.5", True)], True, id="from-zero-to-below"),
        pytest.param("10", "4", ["-1"], [("4", False)], False, id="opening-at-the-point-once"),
    ],
)  # fmt: skip
def test_low_stock_arms_disarms_and_fires_on_negative(
    clock: SteppingClock,
    *,
    point: str | None,
    opening: str,
    steps: list[str],
    fired: list[tuple[str, bool]],
    armed: bool,
) -> None:
    store = InMemoryStore()
    store.load_catalog([Item("P", policy=ReorderPolicy(reorder_point=dec(point)))])
    store.post_opening({"P": D(opening)}, clock.moment())
    inventory = Inventory(store, TEST_IDENTITY)
    for step in steps:
        clock.advance(1)
        if step.startswith("="):
            inventory.count("P", D(step[1:]), clock.moment())
        else:
            inventory.consume("backflush", "P", -D(step), clock.moment())
    lows = events_of(store, "low-stock")
    assert [(event["on_hand"], event["negative"]) for event in lows] == [
        (D(on_hand), negative) for on_hand, negative in fired
    ]
    assert all(event["reorder_point"] == dec(point) for event in lows)
    assert store.balance("P").armed is armed


# --- reorders -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "opening", "take", "ordered"),
    [
        pytest.param(("10", "25", None, None), "50", "41", "25", id="one-lot"),
        pytest.param(("10", "25", None, None), "50", "40", "25", id="at-the-point"),
        pytest.param(("10", "25", None, None), "50", "39", None, id="above-the-point"),
        pytest.param(("10", "25", None, None), "50", "65", "50", id="lots-until-strictly-above"),
        pytest.param(("10", "5", None, None), "50", "50", "15", id="small-lots"),
        pytest.param(("0.5", "0.2", None, None), "1", "0.9", "0.6", id="fractional-lots"),
        pytest.param(("10", "25", "50", None), "50", "41", "41", id="max-wins-over-lots"),
        pytest.param(("10", None, "50", "12"), "50", "41", "48", id="max-rounded-up-to-multiple"),
        pytest.param(("10", "25", None, "10"), "50", "41", "30", id="lot-rounded-up-to-multiple"),
        pytest.param(("100", None, "500", "50"), "1000", "901", "450", id="up-to-max-in-fifties"),
        pytest.param(("10", None, None, None), "50", "41", None, id="a-point-alone-orders-nothing"),
    ],
)
def test_reorder_quantity(
    clock: SteppingClock,
    policy: tuple[str, str | None, str | None, str | None],
    opening: str,
    take: str,
    ordered: str | None,
) -> None:
    point, lot, max_qty, multiple = policy
    rule = ReorderPolicy(D(point), dec(lot), dec(max_qty), dec(multiple))
    store = InMemoryStore()
    store.load_catalog([Item("P", policy=rule)])
    store.post_opening({"P": D(opening)}, clock.moment())
    Inventory(store, TEST_IDENTITY).consume("backflush", "P", D(take), clock.moment())
    on_hand = D(opening) - D(take)
    reorders = events_of(store, "reorder")
    if ordered is None:
        assert (reorders, store.reorders()) == ([], [])
        return
    [row] = store.reorders()
    assert (row.part, row.ordered, row.received, row.open) == ("P", D(ordered), D(0), True)
    expected = {"reorder_id": row.id, "part": "P", "quantity": D(ordered), "on_hand": on_hand,
                "on_order": 0, "reorder_point": D(point)}  # fmt: skip
    assert [{key: event[key] for key in expected} for event in reorders] == [expected]


def test_a_point_alone_gives_low_stock_only(
    inventory: Inventory, store: InMemoryStore, clock: SteppingClock
) -> None:
    mark = store.last_seq()
    inventory.consume("backflush", "SUB-200", D(18), clock.moment())  # 20 -> 2, its point
    assert [(e["type"], e.get("part")) for e in store.events(mark)] == [
        ("backflush", "SUB-200"),
        ("low-stock", "SUB-200"),
    ]
    assert store.reorders() == []


def test_position_counts_what_is_on_order(
    inventory: Inventory, store: InMemoryStore, clock: SteppingClock
) -> None:
    for take in ("41", "20", "5"):  # R-HOUSING: 9 + 0, -11 + 25 (above 10), -16 + 25
        inventory.consume("backflush", "R-HOUSING", D(take), clock.moment())
    first, second = store.reorders()
    assert (first.ordered, second.ordered) == (D(25), D(25))
    assert [(e["on_hand"], e["on_order"]) for e in events_of(store, "reorder")] == [
        (9, 0),
        (-16, 25),
    ]
    assert store.snapshots()["R-HOUSING"]["on_order"] == 50
