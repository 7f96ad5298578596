"""Scans at the shop floor's stations, processed into an in-memory store as the service does.

:class:`Code` and :class:`Label` are decoded barcodes written by hand (what
``hardware.barcode.decode`` would hand the core), so the scan rules are tested
apart from barcode parsing. :class:`StationScans` runs each scan through
:class:`~edge.domain.scanning.ScanProcessor` in a savepoint of its own, as
:meth:`edge.service.InventoryService.process_scans` does, and reads back what
a scan wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from edge.domain.inventory import Inventory
from edge.domain.model import DEFAULT_POLICY, InventoryPolicy, Station
from edge.domain.scanning import BarcodeLike, ScanInput, ScanOutcome, ScanProcessor
from tests.shop_floor import STATIONS, SteppingClock
from tests.unit.fake_store import TEST_IDENTITY, InMemoryStore
from tests.unit.fake_tables import TransactionRow


@dataclass(frozen=True, slots=True)
class Label:
    """The GS1 elements of a code, as the decoder reports them."""

    gtin: str | None
    serial: str | None = None
    count: int | None = None
    batch: str | None = None


@dataclass(frozen=True, slots=True)
class Code:
    """One decoded code; a plain part, alias or GTIN code has only ``text``."""

    text: str
    symbology: str | None = None
    gs1: Label | None = None
    error: str | None = None


def gs1(gtin: str, serial: str | None = None, count: int | None = None) -> Code:
    """A GS1 code in its human-readable form, decoded."""
    text = f"(01){gtin}"
    text += f"(21){serial}" if serial is not None else ""
    text += f"(30){count}" if count is not None else ""
    return Code(text, gs1=Label(gtin, serial, count))


class StationScans:
    """The stations of :data:`tests.shop_floor.STATIONS` (or others) scanning into a store."""

    def __init__(
        self,
        store: InMemoryStore,
        clock: SteppingClock,
        stations: Sequence[Station] = STATIONS,
        policy: InventoryPolicy = DEFAULT_POLICY,
    ) -> None:
        self.store = store
        self.clock = clock
        self.stations = {station.id: station for station in stations}
        self.policy = policy

    def _processor(self) -> ScanProcessor:
        return ScanProcessor(Inventory(self.store, TEST_IDENTITY, self.policy), self.stations)

    def _input(self, station: str, code: str | Code, scanner: str) -> tuple[ScanInput, Code]:
        barcode = code if isinstance(code, Code) else Code(code)
        data = barcode.text.encode("utf-8")
        return ScanInput(scanner, station, data, self.clock.moment()), barcode

    def scan(
        self, station: str, code: str | Code, *, scanner: str = "cli", truncated: bool = False
    ) -> ScanOutcome:
        read, barcode = self._input(station, code, scanner)
        if truncated:
            read = ScanInput(read.scanner, read.station, read.data, read.at, truncated=True)
        return self.process(read, barcode)

    def process(self, read: ScanInput, barcode: BarcodeLike) -> ScanOutcome:
        with self.store.savepoint():
            return self._processor().process(read, barcode)

    def duplicate(self, station: str, code: str | Code, *, scanner: str = "cli") -> ScanOutcome:
        """A read the debouncer marked as a repeat: journaled, nothing else."""
        read, barcode = self._input(station, code, scanner)
        with self.store.savepoint():
            return self._processor().journal_duplicate(read, barcode)

    def transaction(self, outcome: ScanOutcome) -> TransactionRow:
        """The stock transaction an accepted part scan or VOID wrote."""
        [txn] = [row for row in self.store.transactions() if row.scan_id == outcome.scan_id]
        return txn

    def issued(self, outcome: ScanOutcome) -> list[tuple[str, Decimal]]:
        """The ledger rows of a scan's transaction, in the order written."""
        txn = self.transaction(outcome)
        return [(row.part, row.quantity) for row in self.store.ledger(txn.id)]


def accepted(outcome: ScanOutcome) -> ScanOutcome:
    assert (outcome.status, outcome.reason) == ("accepted", None), outcome
    return outcome


def rejected(outcome: ScanOutcome, reason: str) -> ScanOutcome:
    assert (outcome.status, outcome.reason) == ("rejected", reason), outcome
    return outcome
