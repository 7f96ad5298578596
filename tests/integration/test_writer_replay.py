"""A batch the writer must take again one scan at a time, and the database failing meanwhile.

When a scan of a batch raises (a bug, not a rule's refusal), the batch rolls
back and its scans are committed one per transaction. If the database then
stops taking writes part-way, the scans committed before the failure keep
their outcome and their operator's answer; the rest are held and answered
bad-read, and journaled as rejected / storage-unavailable once writes work
again. Nothing is journaled twice.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from edge.runtime.clock import SystemClock
from edge.scanpath.inbox import ReadQueue
from edge.scanpath.space import SPACE_CHECK_S
from edge.scanpath.writer import QueuedRead, ScannerRoute, ScanWriter
from edge.store.catalog import CatalogCache
from edge.store.database import free_megabytes
from edge.store.kept import KeptState
from edge.store.unit_of_work import SqlUnitOfWork
from hardware.reads import RawRead
from tests.broker import poll
from tests.integration.test_inventory import BOM, ITEMS, OPENING
from tests.shop_floor import SHIP, FailingLedgerService, FailingLedgerUnitOfWork, ShopFloor


class ReadOnlyAfter(FailingLedgerUnitOfWork):
    """Fails stock transactions on their second ledger row; commits fail once the budget is spent.

    The failure is SQLite's own: the connection is switched to ``query_only``,
    so the commit's first write raises as it would on a read-only file.
    """

    def __init__(self, service: WritesRunOut, *args: Any) -> None:
        super().__init__(*args, fail_on_call=2)
        self.service = service

    def commit(self, then: Callable[[], None] | None = None) -> None:
        if self.service.commits_left <= 0:
            self._sql("PRAGMA query_only = 1")
        self.service.commits_left -= 1
        super().commit(then)

    def _close(self, *, broken: bool = False) -> None:
        if self._driver is not None:  # the connection may be held for the next one
            self._driver.execute("PRAGMA query_only = 0")
        super()._close(broken=broken)


class WritesRunOut(FailingLedgerService):
    def __init__(self, engine: Engine, commits: int) -> None:
        super().__init__(engine, fail_on_call=2)
        self.commits_left = commits

    def unit_of_work(self) -> SqlUnitOfWork:
        catalog: CatalogCache = self.catalog
        kept: KeptState = self.kept
        return ReadOnlyAfter(self, self.engine, catalog, self.topic_prefix, kept)


def test_scans_stored_before_the_failure_keep_their_answer_and_the_rest_are_held(
    floor: ShopFloor, db_path: Path
) -> None:
    floor.load(ITEMS, BOM)
    floor.opening(**OPENING)
    service = WritesRunOut(floor.engine, commits=2)
    answers: list[tuple[str, bool]] = []
    routes = {
        name: ScannerRoute(
            SHIP, b"", b"", 0.0, lambda good, name=name: answers.append((name, good))
        )
        for name in ("a", "b", "c", "d")
    }
    writer = ScanWriter(service, ReadQueue(100), routes, database_path=db_path, min_free_mb=0)
    codes = {"a": b"R-HOUSING", "b": b"FG-100", "c": b"R-GASKET", "d": b"R-HOUSING"}
    batch = [QueuedRead(name, RawRead(code, float(index))) for index, (name, code) in
             enumerate(codes.items())]  # fmt: skip

    stored = writer.process(batch)

    # a alone, then b journaled as internal-error: two commits; c's commit fails.
    assert [(o.status, o.reason) for o in stored] == [("accepted", None),
                                                       ("rejected", "internal-error")]  # fmt: skip
    assert answers == [("a", True), ("b", False), ("c", False), ("d", False)]
    assert (writer.stats.storage_ok, writer.stats.unstored) == (False, 2)
    assert [row.data for row in floor.scans()] == [b"R-HOUSING", b"FG-100"]

    service.commits_left = 10
    writer.process([])
    journal = [(row.data, row.status, row.reason) for row in floor.scans()]
    assert journal == [
        (b"R-HOUSING", "accepted", None),
        (b"FG-100", "rejected", "internal-error"),
        (b"R-GASKET", "rejected", "storage-unavailable"),
        (b"R-HOUSING", "rejected", "storage-unavailable"),
    ]
    assert floor.on_hand("R-HOUSING") == 49


def test_the_running_writer_holds_one_connection_and_closes_it_when_it_stops(
    floor: ShopFloor, db_path: Path
) -> None:
    floor.load(ITEMS, BOM)
    floor.opening(**OPENING)
    service = floor.service
    held: list[object] = []

    def answered(_good: bool) -> None:
        held.append(service.kept.connection)

    reads: ReadQueue[QueuedRead] = ReadQueue(100)
    route = ScannerRoute(SHIP, b"", b"", 0.0, answered)
    writer = ScanWriter(service, reads, {"a": route}, database_path=db_path, min_free_mb=0)
    stop = threading.Event()
    thread = threading.Thread(target=writer.run, args=(stop,))
    thread.start()
    for index, code in enumerate((b"R-HOUSING", b"R-GASKET", b"R-HOUSING")):
        reads.put(QueuedRead("a", RawRead(code, float(index))))
        # One at a time: each is a transaction of its own.
        poll(lambda n=index: len(held) > n, f"an answer to scan {index + 1}", 10.0)
    stop.set()
    thread.join(10.0)
    assert not thread.is_alive()
    assert held[0] is not None
    assert held == [held[0]] * 3  # the same connection for every transaction
    assert service.kept.connection is None  # closed before anyone disposes of the engine
    assert [row.status for row in floor.scans()] == ["accepted"] * 3


class SteppedMonotonic(SystemClock):
    """The system clock with a monotonic time the test moves on."""

    def __init__(self) -> None:
        super().__init__()
        self.at = 1000.0

    def monotonic(self) -> float:
        return self.at


def test_free_space_far_above_the_floor_is_asked_once_a_second(
    floor: ShopFloor, db_path: Path
) -> None:
    """Plenty of room holds for a second; past it, a floor now above the free space refuses."""
    floor.load(ITEMS, BOM)
    floor.opening(**OPENING)
    answers: list[bool] = []
    clock = SteppedMonotonic()
    route = ScannerRoute(SHIP, b"", b"", 0.0, answers.append)
    writer = ScanWriter(floor.service, ReadQueue(100), {"a": route}, database_path=db_path,
                        min_free_mb=0, clock=clock)  # fmt: skip

    def scan() -> None:
        writer.process([QueuedRead("a", RawRead(b"R-HOUSING", clock.at))])

    scan()  # free space far above a floor of 0: the answer holds for a second
    writer.space.min_free_mb = free_megabytes(db_path) + 1  # as if the disk had just filled up
    clock.at += SPACE_CHECK_S / 2
    scan()
    clock.at += SPACE_CHECK_S
    scan()
    assert answers == [True, True, False]
    # Near or below the floor every batch asks: room again is seen at once.
    writer.space.min_free_mb = 0
    clock.at += 0.1
    scan()
    assert answers == [True, True, False, True]
    assert [row.status for row in floor.scans()] == ["accepted"] * 2 + ["rejected", "accepted"]


def test_a_changed_floor_applies_to_the_next_batch_whatever_the_last_answer_said(
    floor: ShopFloor, db_path: Path
) -> None:
    """A reloaded min_free_mb is not hidden behind the once-a-second answer."""
    floor.load(ITEMS, BOM)
    floor.opening(**OPENING)
    answers: list[bool] = []
    clock = SteppedMonotonic()
    route = ScannerRoute(SHIP, b"", b"", 0.0, answers.append)
    writer = ScanWriter(floor.service, ReadQueue(100), {"a": route}, database_path=db_path,
                        min_free_mb=0, clock=clock)  # fmt: skip
    writer.process([QueuedRead("a", RawRead(b"R-HOUSING", clock.at))])  # room: held a second
    writer.space.change_floor(free_megabytes(db_path) + 1)
    clock.at += 0.1  # well inside that second
    writer.process([QueuedRead("a", RawRead(b"R-GASKET", clock.at))])
    assert answers == [True, False]


def test_an_operator_hears_good_read_once_the_scan_is_durable_and_before_the_relay_wakes(
    floor: ShopFloor, db_path: Path
) -> None:
    floor.load(ITEMS, BOM)
    floor.opening(**OPENING)
    heard: list[tuple[str, object]] = []

    def answered(good: bool) -> None:
        # Another connection: what it reads is committed, not this transaction's view.
        with closing(sqlite3.connect(db_path)) as other:
            journal = other.execute("SELECT data, status FROM scans ORDER BY id").fetchall()
        heard.append(("answer", (good, journal)))

    route = ScannerRoute(SHIP, b"", b"", 0.0, answered)
    writer = ScanWriter(
        floor.service,
        ReadQueue(100),
        {"a": route},
        database_path=db_path,
        min_free_mb=0,
        on_committed=lambda: heard.append(("relay", None)),
    )

    writer.process([QueuedRead("a", RawRead(b"R-HOUSING", 1.0))])

    assert heard == [("answer", (True, [(b"R-HOUSING", "accepted")])), ("relay", None)]


def test_a_feedback_that_raises_is_logged_and_the_commit_and_the_next_scan_stand(
    floor: ShopFloor, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    floor.load(ITEMS, BOM)
    floor.opening(**OPENING)
    heard: list[bool] = []

    def broken_then_fine(good: bool) -> None:
        heard.append(good)
        if len(heard) == 1:
            raise OSError("the port went away mid-write")

    route = ScannerRoute(SHIP, b"", b"", 0.0, broken_then_fine)
    writer = ScanWriter(floor.service, ReadQueue(100), {"a": route}, database_path=db_path,
                        min_free_mb=0)  # fmt: skip
    with floor.service.holding_a_connection():
        first = writer.process([QueuedRead("a", RawRead(b"R-HOUSING", 1.0))])
        second = writer.process([QueuedRead("a", RawRead(b"R-HOUSING", 2.0))])

    assert [o.status for o in first + second] == ["accepted", "accepted"]
    assert heard == [True, True]
    assert any("good-read feedback for scan" in r.getMessage() for r in caplog.records)
    # What the writer keeps between transactions was updated after the failed answer too.
    assert floor.on_hand("R-HOUSING") == 48
    assert writer.stats.accepted == 2
