"""What a scan means at a station: control codes, part resolution, debounce.

A scan always ends in the journal, whatever its fate: ``accepted``,
``rejected`` with a reason, or ``duplicate``. Interpretation follows the
product rules in order: strip prefix/suffix and the AIM identifier (done by
the barcode decoder), control codes, GS1, then part, alias and GTIN lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import NamedTuple, Protocol

from edge.domain.controls import QTY_PREFIX, RSN_PREFIX, VOID
from edge.domain.gtin import normalize_gtin
from edge.domain.inventory import Inventory, Origin, Posted, Rejection
from edge.domain.model import Station, StationMode
from edge.domain.ports import Moment, PendingControl, ScanRecord, StationState
from edge.domain.quantity import ONE, ZERO, QuantityError, format_quantity, mul, parse_quantity
from edge.domain.reasons import REASON_MODES, allowed_reasons, check_reason, reason_required

CONTROL_TTL_S = 30.0
MAX_CODE_BYTES = 4096


class GS1Like(Protocol):
    @property
    def gtin(self) -> str | None: ...
    @property
    def serial(self) -> str | None: ...
    @property
    def count(self) -> int | None: ...
    @property
    def batch(self) -> str | None: ...


class BarcodeLike(Protocol):
    """The decoded barcode, as the hardware layer produces it."""

    @property
    def text(self) -> str: ...
    @property
    def symbology(self) -> str | None: ...
    @property
    def gs1(self) -> GS1Like | None: ...
    @property
    def error(self) -> str | None: ...


class ScanInput(NamedTuple):
    scanner: str
    station: str
    data: bytes
    at: Moment
    truncated: bool = False


class ScanOutcome(NamedTuple):
    scan_id: int
    status: str  # accepted | rejected | duplicate
    reason: str | None
    message: str
    event_id: str | None = None

    @property
    def good(self) -> bool:
        return self.status == "accepted"


def raw_text(data: bytes) -> str:
    """The code as people read it in the journal; undecodable bytes escaped."""
    return data.decode("utf-8", errors="backslashreplace")


class Debouncer:
    """Marks a read as duplicate when it repeats the scanner's previous read in the window.

    Any other code in between resets it; the previous read counts whatever
    its status was. Uses the monotonic clock.
    """

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._last: dict[str, tuple[bytes, float]] = {}

    def is_duplicate(self, scanner: str, data: bytes, monotonic: float) -> bool:
        previous = self._last.get(scanner)
        self._last[scanner] = (data, monotonic)
        if previous is None:
            return False
        last_data, last_time = previous
        return last_data == data and 0 <= monotonic - last_time <= self.window_s

    def forget(self, scanner: str) -> None:
        self._last.pop(scanner, None)


class ScanProcessor:
    """Turns one scan into journal rows, stock transactions and events."""

    def __init__(self, inventory: Inventory, stations: Mapping[str, Station]) -> None:
        self.inventory = inventory
        self.stations = dict(stations)

    def journal_duplicate(self, scan: ScanInput, barcode: BarcodeLike) -> ScanOutcome:
        scan_id = self.inventory.store.add_scan(_record(scan, barcode), "duplicate", None)
        return ScanOutcome(scan_id, "duplicate", None, "duplicate read ignored")

    def journal_rejection(
        self, scan: ScanInput, barcode: BarcodeLike, reason: str, message: str, *, event: bool
    ) -> ScanOutcome:
        """Journal a scan as rejected without applying any of its effects."""
        store = self.inventory.store
        scan_id = store.add_scan(_record(scan, barcode), "rejected", reason)
        event_id = (
            self.inventory.reject_scan(scan_id, raw_text(scan.data), reason, scan.at, _origin(scan))
            if event
            else None
        )
        return ScanOutcome(scan_id, "rejected", reason, message, event_id)

    def process(self, scan: ScanInput, barcode: BarcodeLike) -> ScanOutcome:
        store = self.inventory.store
        scan_id = store.add_scan(_record(scan, barcode), "accepted", None)
        try:
            message, event_id = self._interpret(scan_id, scan, barcode)
        except Rejection as rejection:
            store.set_scan_outcome(scan_id, "rejected", rejection.reason)
            event_id = self.inventory.reject_scan(
                scan_id, raw_text(scan.data), rejection.reason, scan.at, _origin(scan)
            )
            return ScanOutcome(scan_id, "rejected", rejection.reason, rejection.message, event_id)
        return ScanOutcome(scan_id, "accepted", None, message, event_id)

    # --- interpretation --------------------------------------------------------
    def _interpret(
        self, scan_id: int, scan: ScanInput, barcode: BarcodeLike
    ) -> tuple[str, str | None]:
        station = self.stations.get(scan.station)
        if station is None:
            raise Rejection("unknown-station", f"station {scan.station!r} is not configured")
        if scan.truncated or len(scan.data) > MAX_CODE_BYTES:
            raise Rejection("too-long", "the code is longer than the scanner's max_length")
        text = barcode.text
        state = self._live_state(station, scan.at)
        # Control codes come before GS1 (a QTY: label printed as GS1-128 still counts).
        if barcode.error != "invalid-utf8":
            if text.startswith(QTY_PREFIX):
                value = text.removeprefix(QTY_PREFIX)
                return self._set_qty(station, state, value, scan_id, scan.at), None
            if text.startswith(RSN_PREFIX):
                value = text.removeprefix(RSN_PREFIX)
                return self._set_reason(station, state, value, scan_id, scan.at), None
            if text == VOID:
                return self._void(station, scan_id, scan)
        if barcode.error is not None:
            raise Rejection(barcode.error, f"unreadable code ({barcode.error})")
        if station.mode is StationMode.RECEIVE:  # takes kanban cards only
            card = self._card(barcode)
            if card is None:
                raise Rejection(
                    "not-a-card",
                    f"{station.id} is a receive station: it takes kanban cards, and "
                    f"{_shown(barcode.text)} is none",
                )
            return self._card_scan(station, scan_id, scan, card)
        # A kanban card is a code of its own, no part's: asked only when the code is no
        # part, so a part scan costs nothing more.
        try:
            return self._part_scan(station, state, scan_id, scan, barcode)
        except Rejection as rejection:
            card = self._card(barcode) if rejection.reason == "unknown-part" else None
            if card is None:
                raise
        return self._card_scan(station, scan_id, scan, card)

    def _live_state(self, station: Station, at: Moment) -> StationState:
        """The station's pending QTY/RSN, without expired ones or a changed mode's."""
        state = self.inventory.store.station_state(station.id)
        if state.mode is not None and state.mode != station.mode.value:
            return StationState(mode=station.mode.value)
        if state.qty is None and state.reason is None and state.mode is not None:
            return state  # nothing pending and the mode as configured: most scans
        return StationState(
            qty=_unexpired(state.qty, at),
            reason=_unexpired(state.reason, at),
            mode=station.mode.value,
        )

    def _set_qty(
        self, station: Station, state: StationState, value: str, scan_id: int, at: Moment
    ) -> str:
        try:
            quantity = parse_quantity(value)
        except QuantityError as error:
            raise Rejection("bad-qty", f"QTY: {error}") from None
        if not ZERO < quantity <= station.max_qty:
            raise Rejection(
                "qty-out-of-range",
                f"QTY must be above 0 and at most {format_quantity(station.max_qty)}",
            )
        pending = PendingControl(format_quantity(quantity), at, scan_id)
        self.inventory.store.save_station_state(station.id, replace(state, qty=pending))
        return f"quantity {format_quantity(quantity)} for the next scan"

    def _set_reason(
        self, station: Station, state: StationState, value: str, scan_id: int, at: Moment
    ) -> str:
        purpose = REASON_MODES.get(station.mode)
        if purpose is None:
            # The code predates issue stations; it names the station that does not take RSN:.
            raise Rejection(
                "reason-not-scrap-station",
                f"RSN: is for scrap and issue stations; {station.id} is a "
                f"{station.mode.value} station",
            )
        reason = check_reason(value, allowed_reasons(station), purpose=purpose)
        pending = PendingControl(reason, at, scan_id)
        self.inventory.store.save_station_state(station.id, replace(state, reason=pending))
        return f"{purpose} reason {reason} for the next scan"

    def _void(self, station: Station, scan_id: int, scan: ScanInput) -> tuple[str, str]:
        origin = Origin(station.id, scan.scanner, scan_id)
        posted = self.inventory.void(station.id, scan.at, origin, window_s=station.void_window_s)
        self.inventory.store.save_station_state(station.id, StationState(mode=station.mode.value))
        return "voided the last transaction", posted.event_id

    def _part_scan(
        self,
        station: Station,
        state: StationState,
        scan_id: int,
        scan: ScanInput,
        barcode: BarcodeLike,
    ) -> tuple[str, str]:
        part = self._resolve(barcode)
        quantity = Decimal(state.qty.value) if state.qty is not None else ONE
        gs1 = barcode.gs1
        serial = gs1.serial if gs1 is not None else None
        if gs1 is not None and gs1.count is not None:
            quantity = mul(quantity, Decimal(gs1.count))
        if serial is not None and quantity != ONE:
            raise Rejection(
                "serialized-quantity",
                f"a serialized code is one unit; the quantity would be {format_quantity(quantity)}",
            )
        gtin = gs1.gtin if gs1 is not None else None
        # A serialized unit ships once: (GTIN, serial) is recorded at ship stations.
        shipped = (
            (gtin, serial)
            if station.mode is StationMode.SHIP and serial is not None and gtin is not None
            else None
        )
        if shipped is not None and self.inventory.store.serial_shipped(*shipped):
            raise Rejection(
                "serial-already-shipped", f"serial {serial} of GTIN {gtin} has already shipped"
            )
        posted = self._post(station, state, part, quantity, scan_id=scan_id, scan=scan)
        if shipped is not None:
            self.inventory.store.record_serial(*shipped, posted.txn_id)
        # QTY and RSN are used by this accepted part scan only.
        self.inventory.store.save_station_state(station.id, StationState(mode=station.mode.value))
        verb = {"ship": "backflushed", "scrap": "scrapped", "build": "built", "issue": "issued"}[
            station.mode.value
        ]
        return f"{verb} {format_quantity(quantity)} x {part}", posted.event_id

    def _post(
        self,
        station: Station,
        state: StationState,
        part: str,
        quantity: Decimal,
        *,
        scan_id: int,
        scan: ScanInput,
    ) -> Posted:
        origin = Origin(station.id, scan.scanner, scan_id)
        if station.mode is StationMode.BUILD:
            return self.inventory.build(part, quantity, scan.at, origin)
        if station.mode is StationMode.SCRAP:
            reason = state.reason.value if state.reason is not None else station.default_reason
            return self.inventory.consume("scrap", part, quantity, scan.at, origin, reason=reason)
        if station.mode is StationMode.ISSUE:
            if state.reason is None:
                raise reason_required(station.id)
            return self.inventory.issue(
                part,
                quantity,
                scan.at,
                origin,
                reason=state.reason.value,
                allowed=station.issue_reasons,
            )
        return self.inventory.consume("backflush", part, quantity, scan.at, origin)

    def _card(self, barcode: BarcodeLike) -> str | None:
        """The kanban card the code is, if any (a GS1 code never is one)."""
        if barcode.gs1 is not None:
            return None
        found = self.inventory.store.card(barcode.text)
        return found.card if found is not None else None

    def _card_scan(
        self, station: Station, scan_id: int, scan: ScanInput, card: str
    ) -> tuple[str, str]:
        """Refill the card's container at a receive station; anywhere else, it is empty.

        A pending QTY or RSN is not the card's (a container holds what its card
        says) and is cleared, as after a part scan.
        """
        origin = Origin(station.id, scan.scanner, scan_id)
        if station.mode is StationMode.RECEIVE:
            posted = self.inventory.receive_card(card, scan.at, origin)
            message = f"card {card} refilled"
        else:
            posted = self.inventory.empty_card(card, scan.at, origin)
            message = f"card {card} empty: refill requested"
        self.inventory.store.save_station_state(station.id, StationState(mode=station.mode.value))
        return message, posted.event_id

    def _resolve(self, barcode: BarcodeLike) -> str:
        """Part number for the code: GS1 GTIN, else part, alias, then plain GTIN."""
        store = self.inventory.store
        if barcode.gs1 is not None:
            gtin = barcode.gs1.gtin
            part = store.part_for_alias(gtin) if gtin is not None else None
            if part is None:
                raise Rejection("unknown-gtin", f"no item has GTIN {gtin}")
            return part
        text = barcode.text
        if store.item(text) is not None:
            return text
        part = store.part_for_alias(text)
        if part is not None:
            return part
        gtin = normalize_gtin(text)
        if gtin is not None:
            part = store.part_for_alias(gtin)
            if part is not None:
                return part
        raise Rejection("unknown-part", f"unknown part {_shown(text)}")


def _shown(text: str) -> str:
    """A code as a message quotes it: its first 64 characters."""
    return repr(text if len(text) <= 64 else text[:64] + "...")


def _unexpired(pending: PendingControl | None, at: Moment) -> PendingControl | None:
    if pending is None:
        return None
    elapsed = at.seconds_since(pending.at)
    if elapsed is None or not 0 <= elapsed <= CONTROL_TTL_S:
        return None
    return pending


def _record(scan: ScanInput, barcode: BarcodeLike) -> ScanRecord:
    gs1 = barcode.gs1
    return ScanRecord(
        scanner=scan.scanner,
        station=scan.station,
        data=scan.data,
        code=raw_text(scan.data),
        symbology=barcode.symbology,
        at=scan.at,
        gtin=gs1.gtin if gs1 is not None else None,
        serial=gs1.serial if gs1 is not None else None,
        batch=gs1.batch if gs1 is not None else None,
    )


def _origin(scan: ScanInput) -> Origin:
    """Where a scan came from, for the event of its rejection (its station may be unknown)."""
    return Origin(scan.station, scan.scanner)
