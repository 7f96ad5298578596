"""Random sequences of scans and commands on a real SQLite file keep the books straight.

After every step: each balance equals the exact sum of its ledger rows, the
outbox ``seq`` runs 1..n without a gap (and matches its counter), every scan
sent is in the journal, a voided transaction and its void cancel out, and
reorders and the low-stock arming flag are consistent. Some steps run through
a unit of work whose ledger write fails part-way, which must change nothing
but the scan journal.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections import defaultdict
from decimal import Decimal, localcontext
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import select

from edge.domain import exactjson
from edge.domain.inventory import Rejection
from edge.domain.model import InventoryPolicy, Station, StationMode
from edge.domain.quantity import CONTEXT, format_quantity, from_storage
from edge.domain.usage import LedgerUse, usage_of_rows
from edge.store import schema
from edge.store.database import open_database
from edge.store.rows import balance_from_row, count_from_row
from tests.shop_floor import (
    BUILD,
    SCRAP,
    SHIP,
    FailingLedgerService,
    ShopFloor,
    SteppingClock,
    make_service,
)
from tests.shop_floor import STATIONS as SHOP_STATIONS

# R-4 is a kanban part in containers of 0.5 (two cards); its reorder point only warns.
ITEMS = """\
part,stocked,reorder_point,reorder_qty,max_qty,order_multiple,aliases,replenishment
FG,false,,,,,,
KIT,false,,,,,,
SUB,true,3,2,,,,
R-1,false,10,25,,,,
R-2,false,5,,40,7,,
R-3,false,0.5,,,,,
R-4,false,0.2,,,,,kanban
"""
CARDS = "card,part,container_qty\nK-1,R-4,0.5\nK-2,R-4,0.5\n"
# Fractional quantities and scrap allowances on several levels, so that the
# exploded quantities carry many decimals.
BOM = """\
parent,component,qty_per,scrap_pct
FG,KIT,1,0
FG,SUB,0.5,0
FG,R-1,2,0
KIT,R-2,0.311,2.5
KIT,R-3,3,0
SUB,R-4,0.0275,0
SUB,R-1,1,10
"""
OPENING = {"SUB": "4", "R-1": "30", "R-2": "12.5", "R-3": "2", "R-4": "1"}
POLICY_POINTS = {"SUB": Decimal(3), "R-1": Decimal(10), "R-2": Decimal(5), "R-3": Decimal("0.5"),
                 "R-4": Decimal("0.2")}  # fmt: skip

ISSUE, DOCK = "LAB-1", "DOCK-1"
STATIONS = st.sampled_from([SHIP, SCRAP, BUILD, ISSUE])
# The failing service knows the shop floor's stations only.
SHOP_FLOOR_STATIONS = st.sampled_from([SHIP, SCRAP, BUILD])
SCAN_CODES = st.sampled_from(["FG", "KIT", "SUB", "R-1", "R-2", "R-3", "R-4", "NOPE"])
CARD_CODES = st.sampled_from(["K-1", "K-2"])
STOCK_PARTS = st.sampled_from(["SUB", "R-1", "R-2", "R-3", "R-4", "KIT", "NOPE"])
# Up to six decimals, as an operator may type them.
QUANTITIES = st.builds(
    lambda units, places: Decimal(units).scaleb(-places),
    st.integers(min_value=1, max_value=400),
    st.sampled_from([0, 0, 1, 3, 6]),
)
REORDER_IDS = st.integers(min_value=1, max_value=8)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._workdir = tempfile.TemporaryDirectory(prefix="edge-ledger-")
        workdir = Path(self._workdir.name)
        self.engine = open_database(workdir / "edge.db")
        self.clock = SteppingClock()
        stations = (*SHOP_STATIONS, Station(ISSUE, StationMode.ISSUE),
                    Station(DOCK, StationMode.RECEIVE))  # fmt: skip
        self.reconcile = "report"
        self.floor = ShopFloor(make_service(self.engine, stations), self.clock, workdir)
        self.floor.load(ITEMS, BOM)
        self.floor.load_cards(CARDS)
        self.floor.opening(**OPENING)
        self.scans_sent = 0

    def teardown(self) -> None:
        self.engine.dispose()
        self._workdir.cleanup()

    @initialize(adjust=st.booleans())
    def choose_reconcile(self, adjust: bool) -> None:
        """Half the runs post each empty card's reconciliation (``kanban_reconcile``)."""
        if adjust:
            self.reconcile = "adjust"
            self.floor.service.policy = InventoryPolicy(kanban_reconcile="adjust")

    # --- scans ---------------------------------------------------------------
    def _scan(self, station: str, code: str) -> None:
        self.floor.scan(station, code)
        self.scans_sent += 1

    @rule(station=STATIONS, code=SCAN_CODES)
    def scan_part(self, station: str, code: str) -> None:
        self._scan(station, code)

    @rule(station=STATIONS, quantity=QUANTITIES)
    def scan_qty(self, station: str, quantity: Decimal) -> None:
        self._scan(station, f"QTY:{format_quantity(quantity)}")

    @rule(station=st.sampled_from([SCRAP, ISSUE]), reason=st.sampled_from(["DAMAGED", "TEST"]))
    def scan_reason(self, station: str, reason: str) -> None:
        self._scan(station, f"RSN:{reason}")

    @rule(station=st.sampled_from([SHIP, SCRAP, BUILD, ISSUE, DOCK]), card=CARD_CODES)
    def scan_card(self, station: str, card: str) -> None:
        """Empty a card at a production station, refill it at the dock (or be refused)."""
        self._scan(station, card)

    @rule(station=STATIONS)
    def scan_void(self, station: str) -> None:
        self._scan(station, "VOID")

    @rule(station=SHOP_FLOOR_STATIONS, code=SCAN_CODES, fail_on_call=st.integers(1, 4))
    def scan_with_failing_ledger(self, station: str, code: str, fail_on_call: int) -> None:
        failing = FailingLedgerService(self.engine, fail_on_call=fail_on_call)
        ShopFloor(failing, self.clock, self.floor.workdir).scan(station, code)
        self.scans_sent += 1

    @rule(codes=st.lists(st.tuples(STATIONS, SCAN_CODES), min_size=2, max_size=4))
    def scan_group(self, codes: list[tuple[str, str]]) -> None:
        self.floor.scan_batch(list(codes))
        self.scans_sent += len(codes)

    @rule(seconds=st.sampled_from([0.5, 5, 31, 601]))
    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)

    # --- commands ------------------------------------------------------------
    @rule(part=STOCK_PARTS, quantity=QUANTITIES, reorder_id=st.none() | REORDER_IDS)
    def receive(self, part: str, quantity: Decimal, reorder_id: int | None) -> None:
        with contextlib.suppress(Rejection):
            self.floor.receive(part, str(quantity), reorder_id)

    @rule(
        part=STOCK_PARTS,
        counted=st.just(Decimal(0)) | QUANTITIES,
        seconds_ago=st.none() | st.sampled_from([0.0, 0.5, 30.0]),
    )
    def count(self, part: str, counted: Decimal, seconds_ago: float | None) -> None:
        with contextlib.suppress(Rejection):
            self.floor.count(part, str(counted), seconds_ago=seconds_ago)

    @rule(reorder_id=REORDER_IDS)
    def cancel_reorder(self, reorder_id: int) -> None:
        with contextlib.suppress(Rejection):
            self.floor.cancel_reorder(reorder_id)

    @rule(quantity=QUANTITIES)
    def build_command(self, quantity: Decimal) -> None:
        self.floor.build("SUB", str(quantity))

    # --- invariants ----------------------------------------------------------
    @invariant()
    def balances_equal_ledger_sums(self) -> None:
        with self.engine.connect() as connection:
            ledger = list(connection.execute(select(schema.ledger)))
            balances = list(connection.execute(select(schema.balances)))
        sums: dict[str, Decimal] = defaultdict(Decimal)
        with localcontext(CONTEXT):  # exact: any rounding would raise
            for row in ledger:
                sums[row.part] += from_storage(row.quantity)
        on_hand = {row.part: from_storage(row.on_hand) for row in balances}
        assert set(on_hand) == set(sums)
        for part, total in sums.items():
            assert on_hand[part] == total, (part, on_hand[part], total)

    @invariant()
    def use_marks_equal_the_ledgers_consumption(self) -> None:
        """Each balance's cumulative use by kind is what its ledger rows consumed, and all of
        it is in today's daily use (the machine's clock never leaves its first day)."""
        transactions = {txn.id: txn for txn in self.floor.transactions()}
        reversed_by = {txn.voided_by: txn for txn in transactions.values() if txn.voided_by}
        rows: dict[str, list[LedgerUse]] = defaultdict(list)
        for row in self.floor.rows(schema.ledger, schema.ledger.c.id):
            txn = transactions[row.txn_id]
            original = reversed_by.get(txn.id)
            rows[row.part].append((from_storage(row.quantity), txn.kind, txn.part,
                                   original.kind if original else None,
                                   original.part if original else None))  # fmt: skip
        for row in self.floor.rows(schema.balances):
            balance = balance_from_row(tuple(row)[1:])
            assert balance.used == usage_of_rows(row.part, rows[row.part]), row.part
            assert sum((q for _day, q in balance.daily), Decimal(0)) == balance.used.total

    @invariant()
    def each_count_is_kept_with_the_use_since_the_previous(self) -> None:
        by_part: dict[str, Decimal] = defaultdict(Decimal)
        for row in self.floor.rows(schema.counts, schema.counts.c.txn_id):
            record = count_from_row(tuple(row)[1:])
            assert record.variance == record.counted - record.book
            by_part[record.part] += record.used.total
        for row in self.floor.rows(schema.balances):
            balance = balance_from_row(tuple(row)[1:])
            if balance.counted is not None:  # the counts' use adds up to the mark at the last
                assert by_part[row.part] == balance.counted.used.total, row.part

    @invariant()
    def each_empty_card_reconciles_one_container(self) -> None:
        """An empty card's reconciliation is the use since the previous one less a container,
        posted as kanban-adjust exactly when adjusting; the kanban part never reorders."""
        consumed = Decimal(0)
        adjusted = Decimal(0)
        for row in self.floor.rows(schema.outbox, schema.outbox.c.seq):
            if row.type != "kanban-empty":
                continue
            event = exactjson.loads(row.payload)
            assert event["reconciliation"] == event["consumed"] - event["container_qty"]
            assert event["adjusted"] is (
                self.reconcile == "adjust" and event["reconciliation"] != 0
            )
            adjusted += event["reconciliation"] if event["adjusted"] else 0
            consumed += event["consumed"]
        kinds = [(r.kind, from_storage(r.quantity)) for r in self.floor.rows(schema.ledger)]
        assert sum((q for kind, q in kinds if kind == "kanban-adjust"), Decimal(0)) == adjusted
        assert all(row.part != "R-4" for row in self.floor.reorders())
        # The windows between empty cards chain: together they hold all the use recorded
        # up to the last one (the cards were loaded before any scan). One window's use
        # may be negative: a void takes back use recorded before the window began.
        [mark] = self.floor.rows(schema.kanban_marks) or [None]
        assert consumed == (from_storage(mark.used) if mark is not None else 0)
        states = {row.card: row.state for row in self.floor.rows(schema.cards)}
        assert set(states) == {"K-1", "K-2"}
        assert set(states.values()) <= {"full", "empty"}

    @invariant()
    def outbox_seq_is_gapless(self) -> None:
        with self.engine.connect() as connection:
            seqs = list(connection.execute(select(schema.outbox.c.seq).order_by("seq")).scalars())
            counter = connection.execute(
                select(schema.counters.c.value).where(schema.counters.c.name == "seq")
            ).scalar_one_or_none()
        assert seqs == list(range(1, len(seqs) + 1))
        assert (counter or 0) == len(seqs)

    @invariant()
    def every_scan_is_journaled(self) -> None:
        assert len(self.floor.scans()) == self.scans_sent

    @invariant()
    def a_void_cancels_its_transaction(self) -> None:
        net: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
        for txn in self.floor.transactions():
            if txn.voided_by is None:
                continue
            with localcontext(CONTEXT):
                for part, quantity in self.floor.ledger(txn.id):
                    net[txn.id, part] += quantity
                for part, quantity in self.floor.ledger(txn.voided_by):
                    net[txn.id, part] += quantity
        assert all(value == 0 for value in net.values()), net

    @invariant()
    def reorders_are_consistent(self) -> None:
        for row in self.floor.reorders():
            ordered, received = from_storage(row.ordered), from_storage(row.received)
            assert ordered > 0
            if row.open:
                assert received < ordered
                assert row.close_reason is None
            elif row.close_reason == "received":
                assert received >= ordered
            else:
                assert row.close_reason == "cancelled"

    @invariant()
    def on_order_is_what_the_open_reorders_still_bring(self) -> None:
        expected: dict[str, Decimal] = defaultdict(Decimal)
        with localcontext(CONTEXT):
            for row in self.floor.reorders():
                if row.open:
                    outstanding = from_storage(row.ordered) - from_storage(row.received)
                    expected[row.part] += max(outstanding, Decimal(0))
        kept = {row.part: from_storage(row.quantity) for row in self.floor.rows(schema.on_order)}
        assert {part: q for part, q in kept.items() if q} == {
            part: q for part, q in expected.items() if q
        }

    @invariant()
    def stock_above_the_point_is_armed(self) -> None:
        for row in self.floor.rows(schema.balances):
            point = POLICY_POINTS.get(row.part)
            if point is not None and from_storage(row.on_hand) > point:
                assert row.armed, row


LedgerMachine.TestCase.settings = settings(max_examples=20, stateful_step_count=25, deadline=None)
TestLedger = LedgerMachine.TestCase
