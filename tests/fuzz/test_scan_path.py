"""Hostile reads through the daemon's real scan path, on a real SQLite file.

Each example starts from a copy of a database holding the demo catalog and opening
stock (imported from ``edge/demo/data/`` by the real importer), and sends a sequence of raw
reads from four scanners through :class:`edge.scanpath.writer.ScanWriter` exactly as the daemon
does: debounce, ``hardware.barcode.decode`` with the scanner's prefix and suffix, then
``InventoryService.process_scans`` in batches (one commit; a scan that raises is taken again alone).

The reads are what a broken label, a misconfigured scanner or a prankster sends: NUL
and control characters, invalid UTF-8, 10 kB codes, malformed GS1 element strings and
human-readable ``(01)...`` forms, ``QTY:`` with huge, negative, exponent, NaN and
non-numeric values, ``RSN:`` with odd text, ``VOID`` look-alikes, mixed with real part
numbers, aliases and GTINs so that stock really moves.

After every sequence: nothing raised; every read is in the journal exactly once, in
order, with its bytes, as accepted, duplicate (only when the debounce rule says so) or
rejected with a reason, never ``internal-error``; each scanner heard one answer per
non-duplicate read, good exactly when accepted; every rejected scan has its
``scan-rejected`` event; the outbox ``seq`` has no gap; and every balance equals the
exact sum of its ledger rows.
"""

from __future__ import annotations

import operator
import shutil
import sqlite3
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from pathlib import Path

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from edge.demo import DEMO_DATA
from edge.domain import exactjson
from edge.domain.model import Station, StationMode
from edge.domain.ports import Moment
from edge.domain.quantity import CONTEXT
from edge.domain.scanning import ScanOutcome
from edge.masterdata.bom import import_bom
from edge.masterdata.items import import_items
from edge.masterdata.stock import import_stock
from edge.runtime.clock import SystemClock
from edge.scanpath.inbox import ReadQueue
from edge.scanpath.writer import QueuedRead, ScannerRoute, ScanWriter
from edge.store.database import open_database
from hardware.reads import RawRead
from tests.fuzz.conftest import fuzz_settings
from tests.shop_floor import make_service

GS = "\x1d"
STATIONS = (
    Station("PACK-1", StationMode.SHIP),
    Station("SCRAP-1", StationMode.SCRAP, scrap_reasons=("DAMAGED", "TEST")),
    Station("SCRAP-2", StationMode.SCRAP, max_qty=Decimal(5), void_window_s=20),
    Station("BUILD-1", StationMode.BUILD),
)


@dataclass(frozen=True)
class Scanner:
    id: str
    station: str
    prefix: bytes = b""
    suffix: bytes = b""
    debounce_s: float = 1.0


SCANNERS = (
    Scanner("pack-hid", "PACK-1"),
    Scanner("scrap-serial", "SCRAP-1", prefix=b"\x02", suffix=b"\x03"),
    Scanner("scrap-2", "SCRAP-2", suffix=b"\r\n", debounce_s=0.25),
    Scanner("build", "BUILD-1", prefix=b"]", debounce_s=2.0),
)


class SteppedClock(SystemClock):
    """The system clock, except that a read's wall time follows its monotonic time exactly."""

    START_WALL = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    START_MONOTONIC = 1000.0

    def __init__(self) -> None:
        super().__init__()
        self.latest = self.START_MONOTONIC

    def now(self) -> datetime:
        return self._wall(self.latest)

    def monotonic(self) -> float:
        return self.latest

    def moment_at(self, monotonic: float) -> Moment:
        self.latest = max(self.latest, monotonic)
        return Moment(self._wall(monotonic), monotonic, self.boot_id())

    def _wall(self, monotonic: float) -> datetime:
        return self.START_WALL + timedelta(seconds=monotonic - self.START_MONOTONIC)


@pytest.fixture(scope="module")
def catalog_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the demo items, BOMs and opening stock, imported as ``edge import`` does."""
    path = tmp_path_factory.mktemp("scan-path") / "catalog.db"
    engine = open_database(path)
    try:
        service = make_service(engine, STATIONS)
        import_items(service, DEMO_DATA / "items.csv")
        import_bom(service, DEMO_DATA / "bom.csv")
        import_stock(service, DEMO_DATA / "stock.csv", SteppedClock().moment())
    finally:
        engine.dispose()
    return path


# --- codes -------------------------------------------------------------------------------

PARTS = [
    "FG-PUMP-100", "FG-PUMP-200", "SA-MOTOR-100", "PH-HOUSING", "RM-IMPELLER", "RM-GREASE",
    "PK-BOX-S", "CUST-4711", "09506000134352", "9506000134352", "04012345000016",
    "fg-pump-100", " FG-PUMP-100", "NO-SUCH-PART",
]  # fmt: skip
GTIN = "09506000134352"
HOSTILE_QUANTITIES = [
    "1", "2", "0.5", "3", "5", "0.000001", "0", "-0", "-1", "-3", "1e3", "1E3", "1e-3", "NaN",
    "nan", "sNaN", "Infinity", "-Infinity", "inf", "9" * 40, "9" * 41, "9" * 500, "10000",
    "10000.000001", "10001", "0.0000001", " 2", "2 ", "+2", "1,5", "1.", ".5", "1_000",
    "0x10", "\u0661\u0662", "\uff12", "2\x00", "", "QTY:2", "1/2", "½",
]  # fmt: skip
HOSTILE_REASONS = [
    "DAMAGED", "TEST", "damaged", "", " ", "\t", " DAMAGED ", "DAMAGED\x00", "\u202eDEGAMAD",
    "\x1b[31mRED", "X" * 5000, "WRONG-PART", "RSN:DAMAGED", "\ud7ff", "🙂",
]  # fmt: skip
VOIDS = ["VOID", "void", " VOID", "VOID ", "VOID\r", "VOID\x00", "VOIDX", "VOI", "V0ID", "VOID" * 3]
AIM_IDS = ["", "", "]C1", "]d2", "]Q3", "]e0", "]E0", "]A0", "]X", "]", "]é1"]
GS1_FORMS = [
    f"(01){GTIN}",
    f"(01){GTIN}(21)SER-1",
    f"(01){GTIN}(21)SER-2",
    f"(01){GTIN}(30)2",
    f"(01){GTIN}(30)99999999",
    f"(01){GTIN}(30)0",
    f"(01){GTIN}(30)",
    f"(01){GTIN}(30)2(37)2",
    f"(02){GTIN}(37)3",
    f"(02){GTIN}",
    f"(01){GTIN}(10)LOT 7",
    f"(01){GTIN} (21)A B",
    f"(01){GTIN}(21)X(21)Y",
    f"(01){GTIN}(x)(21)1",
    "(01)09506000134353",
    "(01)0950600013435",
    "(01)",
    "(01)(21)",
    "((01))",
    "(0)1",
    "(99999)1",
    f"01{GTIN}21SER-3",
    f"{GS}01{GTIN}21SER-4{GS}10LOT",
    f"{GS}01{GTIN}{GS}{GS}",
    f"{GS}{GS}{GS}",
    f"{GS}",
    f"0104012345000016{GS}3712",
    f"01{GTIN}17991231",
    f"01{GTIN}17000000",
    f"00{'1' * 18}",
    "(01)" + "0" * 5000,
]


def _text_code() -> st.SearchStrategy[str]:
    control = st.sampled_from(
        ["QTY:" + q for q in HOSTILE_QUANTITIES] + ["RSN:" + r for r in HOSTILE_REASONS] + VOIDS
    )

    def joined(
        heads: st.SearchStrategy[str], tails: st.SearchStrategy[str]
    ) -> st.SearchStrategy[str]:
        return st.builds(operator.add, heads, tails)

    return st.one_of(
        st.sampled_from(PARTS),
        control,
        joined(st.sampled_from(AIM_IDS), st.sampled_from(GS1_FORMS)),
        joined(st.sampled_from(AIM_IDS), st.sampled_from(PARTS)),
        joined(st.sampled_from(["QTY:", "RSN:"]), st.text(max_size=12)),
        st.text(max_size=24),
    )


_LONG = st.builds(
    lambda chunk, size: (chunk * (size // len(chunk) + 1))[:size],
    st.binary(min_size=1, max_size=8),
    st.sampled_from([4095, 4096, 4097, 5000, 10_240]),
)

_ENCODED = _text_code().map(lambda text: text.encode("utf-8", "surrogatepass"))
_RAW = st.one_of(
    _ENCODED,
    _ENCODED,
    _ENCODED,
    _text_code().map(lambda text: text.encode("utf-8", "surrogatepass") + b"\xff"),
    st.binary(max_size=40),
    st.sampled_from([b"", b"\x00", b"QTY:\xff", b"\xc3", b"\xed\xa0\x80", b"VOID\xff", b"]C1"]),
    _LONG,
)


@dataclass(frozen=True)
class Read:
    scanner: int  # index into SCANNERS
    data: bytes
    framed: bool  # sent with the scanner's configured prefix and suffix
    after_s: float  # seconds since the previous read
    new_batch: bool  # the writer starts a new batch (and commit) with this read


_READS = st.lists(
    st.builds(
        Read,
        scanner=st.integers(min_value=0, max_value=len(SCANNERS) - 1),
        data=_RAW,
        framed=st.booleans(),
        after_s=st.sampled_from([0.0, 0.1, 0.3, 1.0, 1.5, 5.0, 25.0, 31.0, 700.0]),
        new_batch=st.booleans(),
    ),
    min_size=1,
    max_size=25,
)


# --- the property ------------------------------------------------------------------------


@dataclass
class Sent:
    scanner: Scanner
    data: bytes
    monotonic: float


def _batches(reads: list[Read]) -> Iterator[list[tuple[Scanner, bytes, float]]]:
    t = SteppedClock.START_MONOTONIC
    batch: list[tuple[Scanner, bytes, float]] = []
    for read in reads:
        t += read.after_s
        scanner = SCANNERS[read.scanner]
        data = scanner.prefix + read.data + scanner.suffix if read.framed else read.data
        if read.new_batch and batch:
            yield batch
            batch = []
        batch.append((scanner, data, t))
    yield batch


def _expected_duplicates(sent: list[Sent]) -> list[bool]:
    """The debounce rule: the scanner's previous read, the same bytes, within its window."""
    previous: dict[str, Sent] = {}
    result = []
    for read in sent:
        before = previous.get(read.scanner.id)
        result.append(
            before is not None
            and before.data == read.data
            and 0 <= read.monotonic - before.monotonic <= read.scanner.debounce_s
        )
        previous[read.scanner.id] = read
    return result


@fuzz_settings(weight=0.6)
@example(
    reads=[Read(0, b"QTY:NaN", False, 0.0, False), Read(0, b"FG-PUMP-100", False, 0.1, False)]
).via("QTY: with NaN, then a part scan")
@example(
    reads=[
        Read(1, b"RSN:DAMAGED", True, 0.0, False),
        Read(1, b"RM-GREASE", True, 0.1, False),
        Read(1, b"VOID", True, 0.1, True),
        Read(1, b"VOID", True, 1.5, False),
    ]
).via("scrap with a reason, voided, void again")
@given(reads=_READS)
def test_every_hostile_read_is_journaled_once_and_the_books_balance(
    catalog_database: Path, reads: list[Read]
) -> None:
    with tempfile.TemporaryDirectory(prefix="edge-fuzz-") as folder:
        database = Path(folder) / "edge.db"
        shutil.copyfile(catalog_database, database)
        before = _journal_size(database)
        engine = open_database(database)
        heard: dict[str, list[bool]] = defaultdict(list)
        try:
            writer = ScanWriter(
                make_service(engine, STATIONS),
                ReadQueue(100),
                {
                    scanner.id: ScannerRoute(
                        station=scanner.station,
                        prefix=scanner.prefix,
                        suffix=scanner.suffix,
                        debounce_s=scanner.debounce_s,
                        feedback=lambda good, scanner_id=scanner.id: heard[scanner_id].append(good),
                    )
                    for scanner in SCANNERS
                },
                database_path=database,
                min_free_mb=0,
                clock=SteppedClock(),
            )
            sent: list[Sent] = []
            outcomes: list[ScanOutcome] = []
            for batch in _batches(reads):
                queued = [
                    QueuedRead(scanner.id, RawRead(data=data, monotonic=t))
                    for scanner, data, t in batch
                ]
                outcomes += writer.process(queued)
                sent += [Sent(scanner, data, t) for scanner, data, t in batch]
        finally:
            engine.dispose()
        check_books(database, before, sent, outcomes, heard)


def check_books(
    database: Path,
    before: int,
    sent: list[Sent],
    outcomes: list[ScanOutcome],
    heard: dict[str, list[bool]],
) -> None:
    connection = sqlite3.connect(database)
    try:
        journal = connection.execute(
            "SELECT id, scanner, data, status, reason FROM scans WHERE id > ? ORDER BY id",
            (before,),
        ).fetchall()
        ledger = connection.execute("SELECT part, quantity FROM ledger").fetchall()
        balances = connection.execute("SELECT part, on_hand FROM balances").fetchall()
        events = [
            exactjson.loads(payload)
            for (payload,) in connection.execute("SELECT payload FROM outbox ORDER BY seq")
        ]
        seqs = [seq for (seq,) in connection.execute("SELECT seq FROM outbox ORDER BY seq")]
    finally:
        connection.close()

    for outcome in outcomes:
        event(f"{outcome.status} {outcome.reason or ''}".strip())

    # Every read is in the journal exactly once, in order, with the bytes as read.
    assert len(outcomes) == len(sent)
    assert [row[0] for row in journal] == [outcome.scan_id for outcome in outcomes]
    assert [(row[1], bytes(row[2])) for row in journal] == [(s.scanner.id, s.data) for s in sent]
    expected_duplicates = _expected_duplicates(sent)
    for (_, _, data, status, reason), outcome, duplicate in zip(
        journal, outcomes, expected_duplicates, strict=True
    ):
        assert (status, reason) == (outcome.status, outcome.reason)
        assert (status == "duplicate") == duplicate, bytes(data)[:80]
        if status == "rejected":
            assert reason, bytes(data)[:80]
            assert reason != "internal-error", f"internal error on {bytes(data)[:200]!r}"
        else:
            assert status in ("accepted", "duplicate")
            assert reason is None

    # Each scanner heard one answer per non-duplicate read: good exactly when accepted.
    answers: dict[str, list[bool]] = defaultdict(list)
    for read, outcome in zip(sent, outcomes, strict=True):
        if outcome.status != "duplicate":
            answers[read.scanner.id].append(outcome.status == "accepted")
    assert dict(heard) == dict(answers)

    # Every rejection was announced, once, for its own scan.
    rejected_ids = Counter(o.scan_id for o in outcomes if o.status == "rejected")
    announced = Counter(ev["scan_id"] for ev in events if ev["type"] == "scan-rejected")
    assert announced == rejected_ids
    assert seqs == list(range(1, len(seqs) + 1))

    # Every balance is the exact sum of its ledger rows.
    with localcontext(CONTEXT):
        sums: dict[str, Decimal] = defaultdict(Decimal)
        for part, quantity in ledger:
            sums[part] += Decimal(quantity)
        stored = {part: Decimal(on_hand) for part, on_hand in balances}
        for part in stored.keys() | sums.keys():
            assert stored.get(part, Decimal(0)) == sums.get(part, Decimal(0)), part


def _journal_size(database: Path) -> int:
    connection = sqlite3.connect(database)
    try:
        (size,) = connection.execute("SELECT coalesce(max(id), 0) FROM scans").fetchone()
    finally:
        connection.close()
    return int(size)
