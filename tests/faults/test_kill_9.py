"""kill -9 of ``edge run`` at random points of a scan stream, round after round.

Two operators scan serialized pumps on serial scanners (ptys) at a ship and a
scrap station, in short bursts, each burst waiting for its beeps. In every
round the daemon is killed with SIGKILL once a random number of good-read
bytes have been heard, wherever it is: reading, committing a batch, writing
feedback, publishing. After the rounds a clean run sends what is left and
stops on SIGTERM. Then:

* every scan that got its good-read byte is in the journal exactly once,
  accepted; what a daemon committed is exactly what the scanner sent, in
  order, with only a tail (read but not yet committed) missing;
* every accepted scan has one transaction and exactly its BOM's ledger rows;
  balances equal the ledger sum;
* every event reached the broker: de-duplicated by ``event_id``, ``seq``
  covers 1..n without gaps.

The seed of the random kill points is printed and can be fixed with
``EDGE_FAULT_SEED``.
"""

from __future__ import annotations

import os
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.broker import Mosquitto, poll, subscribed
from tests.faults.conftest import (
    ACK,
    PREFIX,
    SCRAP_GTIN,
    SHIP_GTIN,
    EdgeRun,
    Line,
    PtyScanner,
    assert_balances_equal_ledger,
    assert_every_event_delivered,
    assert_scans_and_ledger_agree,
)
from tests.scanner_pty import CEILING_S

MAX_BURST = 6  # codes an operator scans before waiting for their beeps
MAX_ACKS_BEFORE_KILL = 24


@dataclass
class Operator:
    """Scans unique serialized labels in bursts; waits for each burst's beeps."""

    scanner: PtyScanner
    gtin: str
    rng: random.Random
    typed: list[str] = field(default_factory=list)  # this daemon's lifetime only
    numbered: int = 0

    def next_code(self, round_no: int) -> str:
        self.numbered += 1
        return f"(01){self.gtin}(21)R{round_no:03d}{self.scanner.id[0].upper()}{self.numbered:05d}"

    def work(self, round_no: int, stop: threading.Event) -> None:
        while not stop.is_set():
            expected = self.scanner.heard_count() + self.rng.randint(1, MAX_BURST)
            while len(self.typed) < expected:
                code = self.next_code(round_no)
                self.typed.append(code)
                self.scanner.type(code)
            while self.scanner.heard_count() < expected and not stop.is_set():
                self.scanner.hear()


@dataclass
class Lifetime:
    """What one daemon process was sent, answered and committed, per scanner."""

    typed: dict[str, list[str]]
    heard: dict[str, bytes]
    first_scan_id: int
    last_scan_id: int


@pytest.fixture
def seed() -> int:
    value = int(os.environ.get("EDGE_FAULT_SEED", random.randrange(2**32)))
    print(f"\nEDGE_FAULT_SEED={value}")
    return value


@pytest.fixture
def kill_line(
    make_broker: Callable[..., Mosquitto], make_line: Callable[..., Line], by_id: Path
) -> Iterator[tuple[Mosquitto, Line]]:
    broker = make_broker()
    scanners = [
        PtyScanner("pack", "PACK-1", by_id / "usb-Acme_Scanner_PACK-if00"),
        PtyScanner("scrap", "SCRAP-1", by_id / "usb-Acme_Scanner_SCRAP-if00"),
    ]
    for scanner in scanners:
        scanner.plug()
    yield broker, make_line(broker, scanners)
    for scanner in scanners:
        scanner.unplug()


def _round(
    round_no: int,
    line: Line,
    operators: list[Operator],
    daemons: Callable[[Line], EdgeRun],
    rng: random.Random,
) -> Lifetime:
    first = line.last_scan_id() + 1
    run = daemons(line)
    kill_after = rng.randint(1, MAX_ACKS_BEFORE_KILL)
    stop = threading.Event()
    workers = [
        threading.Thread(target=operator.work, args=(round_no, stop), name=operator.scanner.id)
        for operator in operators
    ]
    for worker in workers:
        worker.start()
    try:
        poll(
            lambda: sum(op.scanner.heard_count() for op in operators) >= kill_after,
            f"{kill_after} good-read beeps in round {round_no}",
        )
        run.kill()
    finally:
        stop.set()
        for worker in workers:
            worker.join(CEILING_S)
    lifetime = Lifetime(
        typed={op.scanner.id: op.typed for op in operators},
        heard={op.scanner.id: op.scanner.drain() for op in operators},
        first_scan_id=first,
        last_scan_id=line.last_scan_id(),
    )
    for operator in operators:
        operator.typed = []
    return lifetime


def _check_lifetime(line: Line, number: int, lifetime: Lifetime) -> int:
    """What the daemon committed is a prefix of what was sent; every beep is a stored scan.

    Returns how many scans were acknowledged.
    """
    rows = [
        row for row in line.journal() if lifetime.first_scan_id <= row[0] <= lifetime.last_scan_id
    ]
    acknowledged = 0
    for scanner_id, typed in lifetime.typed.items():
        heard = lifetime.heard[scanner_id]
        assert set(heard) <= {ACK}, f"round {number}, {scanner_id}: {heard!r}"
        mine = [row for row in rows if row[1] == scanner_id]
        codes = [row[2] for row in mine]
        assert codes == typed[: len(codes)], f"round {number}, {scanner_id}"
        assert len(heard) <= len(mine), f"round {number}, {scanner_id}: a beep for no scan"
        assert all(row[3] == "accepted" for row in mine), mine
        acknowledged += len(heard)
    return acknowledged


@pytest.mark.parametrize(
    "rounds", [pytest.param(5, id="5-rounds"), pytest.param(50, id="50-rounds",
                                                             marks=pytest.mark.slow)]
)  # fmt: skip
def test_kill_9_during_scans_loses_no_acknowledged_scan_and_no_event(
    kill_line: tuple[Mosquitto, Line],
    daemons: Callable[[Line], EdgeRun],
    seed: int,
    rounds: int,
) -> None:
    broker, line = kill_line
    rng = random.Random(seed)
    pack, scrap = line.scanners
    assert isinstance(pack, PtyScanner)
    assert isinstance(scrap, PtyScanner)
    operators = [
        Operator(pack, SHIP_GTIN, random.Random(rng.random())),
        Operator(scrap, SCRAP_GTIN, random.Random(rng.random())),
    ]
    with subscribed(broker, f"{PREFIX}/event/#", client_id="erp") as erp:
        lifetimes = [_round(n, line, operators, daemons, rng) for n in range(1, rounds + 1)]

        # A clean run: both stations scan once more, the backlog goes out, SIGTERM.
        run = daemons(line)
        final = {pack.id: f"(01){SHIP_GTIN}(21)FINAL", scrap.id: f"(01){SCRAP_GTIN}(21)FINAL"}
        for scanner in (pack, scrap):
            scanner.type(final[scanner.id])
            assert scanner.wait_heard(1) == bytes([ACK])
        events = erp.wait_for_seqs(line.last_seq(), ceiling=120)
        poll(lambda: line.unpublished() == 0, "every event marked published", 120)
        assert run.terminate() == 0, run.log_text()
        events = erp.events()

    acknowledged = sum(_check_lifetime(line, n, life) for n, life in enumerate(lifetimes, 1))
    assert acknowledged >= rounds  # every round was killed after at least one beep
    journal = line.journal()
    repeated = [code for code, times in Counter(row[2] for row in journal).items() if times > 1]
    assert repeated == []
    assert all(row[3] == "accepted" for row in journal), [r for r in journal if r[3] != "accepted"]
    assert {row[2] for row in journal} >= set(final.values())
    assert_scans_and_ledger_agree(line)
    assert_balances_equal_ledger(line)
    duplicates = assert_every_event_delivered(line, events)
    sent = sum(len(typed) for life in lifetimes for typed in life.typed.values())
    print(
        f"kill -9: {rounds} rounds, {sent} scans sent, {len(journal)} journaled, "
        f"{acknowledged} acknowledged before a kill, {line.last_seq()} events, "
        f"{duplicates} duplicate copies de-duplicated"
    )
