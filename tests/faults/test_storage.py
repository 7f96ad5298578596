"""A database that cannot be written: the disk fills up, or free space falls below the floor.

The database lives on a small tmpfs that the test fills with a real file
while ``edge run`` is scanning. Scans that cannot be committed get the
bad-read byte at once and a log line says why; nothing is half-written
(balances equal the ledger, every journal row is whole); when space returns
the held scans are journaled as rejected / ``storage-unavailable`` (with a
``scan-rejected`` event each) and new scans are accepted again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from tests.broker import Mosquitto, Subscriber, poll, subscribed
from tests.faults.conftest import (
    ACK,
    NAK,
    PREFIX,
    SHIP_GTIN,
    EdgeRun,
    Line,
    PtyScanner,
    SmallDisk,
    assert_balances_equal_ledger,
    assert_every_event_delivered,
    assert_scans_and_ledger_agree,
)

REFUSED = "database cannot be written"
MAX_SCANS_UNTIL_FULL = 400  # the WAL's room left when the disk filled is used up well before


class Operator:
    """Scans one label at a time and waits for its beep, like a person at the station."""

    def __init__(self, scanner: PtyScanner) -> None:
        self.scanner = scanner
        self.answers: dict[str, int] = {}
        self.numbered = 0

    def scan(self) -> tuple[str, int]:
        self.numbered += 1
        code = f"(01){SHIP_GTIN}(21)D{self.numbered:05d}"
        self.scanner.type(code)
        answer = self.scanner.wait_heard(len(self.answers) + 1)[-1]
        self.answers[code] = answer
        return code, answer

    def codes(self, answer: int) -> list[str]:
        return [code for code, heard in self.answers.items() if heard == answer]


@pytest.fixture
def storage_line(
    make_broker: Callable[..., Mosquitto], pack_scanner: PtyScanner
) -> tuple[Mosquitto, PtyScanner]:
    return make_broker(), pack_scanner


def _held_scans_journaled(line: Line, held: list[str]) -> bool:
    rows = {row[2]: row[3:] for row in line.journal()}
    return all(rows.get(code) == ("rejected", "storage-unavailable") for code in held)


def _assert_nothing_half_written(line: Line, refused: list[str]) -> None:
    journaled = {row[2] for row in line.journal()}
    assert journaled.isdisjoint(refused)
    assert_scans_and_ledger_agree(line)
    assert_balances_equal_ledger(line)


def _assert_recovered(line: Line, operator: Operator, erp: Subscriber, run: EdgeRun) -> None:
    """After space returns: held scans journaled once as rejected, new scans accepted."""
    held = operator.codes(NAK)
    poll(lambda: _held_scans_journaled(line, held), "the held scans to be journaled", 30)
    run.wait_log(rf"database writable again: {len(held)} held scans journaled as rejected")
    for _ in range(3):
        assert operator.scan()[1] == ACK
    events = erp.wait_for_seqs(line.last_seq(), ceiling=60)
    poll(lambda: line.unpublished() == 0, "every event marked published", 60)
    assert run.terminate() == 0, run.log_text()

    journal = line.journal()
    assert Counter(row[2] for row in journal) == Counter(list(operator.answers))
    status = {row[2]: row[3:] for row in journal}
    for code in operator.codes(ACK):
        assert status[code] == ("accepted", None), code
    for code in held:
        assert status[code] == ("rejected", "storage-unavailable"), code
    assert_scans_and_ledger_agree(line)
    assert_balances_equal_ledger(line)
    assert_every_event_delivered(line, erp.events())
    rejected_events = {e["code"] for e in events if e["type"] == "scan-rejected"}
    assert rejected_events == set(held)


def test_full_disk_refuses_scans_then_journals_them_when_space_returns(
    storage_line: tuple[Mosquitto, PtyScanner],
    small_disk: SmallDisk,
    make_line: Callable[..., Line],
    daemons: Callable[[Line], EdgeRun],
) -> None:
    broker, scanner = storage_line
    # No free-space floor: the write itself fails with "database or disk is full".
    line = make_line(broker, [scanner], database=small_disk.mount / "edge.db", min_free_mb=0)
    operator = Operator(scanner)
    with subscribed(broker, f"{PREFIX}/event/#", client_id="erp") as erp:
        run = daemons(line)
        for _ in range(3):
            assert operator.scan()[1] == ACK

        small_disk.fill()
        # The WAL may still have room from before; scanning on uses it up.
        for _ in range(MAX_SCANS_UNTIL_FULL):
            if operator.scan()[1] == NAK:
                break
        assert operator.codes(NAK), "no scan was refused on a full disk"
        for _ in range(3):  # and the next ones too, while the disk stays full
            assert operator.scan()[1] == NAK
        # One line, once, however many scans are refused: the driver's own words.
        run.wait_log(rf"{REFUSED} \(database or disk is full\); scans are refused and kept")
        assert run.count(REFUSED) == 1
        _assert_nothing_half_written(line, operator.codes(NAK))
        # The relay cannot record PUBACKs either; reads still work, but that is no recovery.
        assert run.count("the relay retries") <= 1
        assert run.count("the database can be used again") == 0

        small_disk.free_up()
        _assert_recovered(line, operator, erp, run)


def test_free_space_below_min_free_mb_refuses_scans(
    storage_line: tuple[Mosquitto, PtyScanner],
    small_disk: SmallDisk,
    make_line: Callable[..., Line],
    daemons: Callable[[Line], EdgeRun],
) -> None:
    broker, scanner = storage_line
    line = make_line(broker, [scanner], database=small_disk.mount / "edge.db", min_free_mb=8)
    operator = Operator(scanner)
    with subscribed(broker, f"{PREFIX}/event/#", client_id="erp") as erp:
        run = daemons(line)
        for _ in range(3):
            assert operator.scan()[1] == ACK

        small_disk.fill(leave_mb=4)  # room to write, but below the configured floor
        for _ in range(4):
            assert operator.scan()[1] == NAK
        run.wait_log(rf"{REFUSED} \(free disk space is below database.min_free_mb\)")
        _assert_nothing_half_written(line, operator.codes(NAK))

        small_disk.free_up()
        _assert_recovered(line, operator, erp, run)
