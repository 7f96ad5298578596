"""What each printed label carries and says, from the config and the catalog.

A label's code is exactly what the daemon accepts when a scanner reads it: a
control code from edge/domain/controls.py, a card id, a part number, or a GS1
element string ``(01)`` with a GTIN from the item's aliases. Its meaning is
worded from the station's own settings (its void window, its reason lists),
so a sheet never promises what the station would refuse.

Code 128 carries ASCII only, and a long code would print too narrow to read
on a card; such a code is printed as Data Matrix instead, and the sheet's
notes say so (a 2D imager reads both).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final

from edge.domain.controls import VOID, qty_code, reason_code
from edge.domain.gtin import normalize_gtin
from edge.domain.model import Station, StationMode
from edge.domain.quantity import format_quantity
from edge.domain.reasons import REASON_MODES, allowed_reasons
from edge.domain.scanning import CONTROL_TTL_S
from edge.store.card_queries import CardLine
from edge.store.label_queries import PartLine

# The QTY: codes every sheet of a station that takes them carries (--qty adds others).
STANDARD_QUANTITIES: Final = tuple(Decimal(n) for n in range(2, 11))
# The longest code printed as Code 128: about 80 mm at a module width a 2D imager and a
# laser scanner both read; longer codes go to Data Matrix.
CODE128_MAX_CHARS: Final = 20


class Symbology(StrEnum):
    CODE128 = "code128"
    DATAMATRIX = "datamatrix"
    QR = "qr"


@dataclass(frozen=True, slots=True)
class Code:
    """One barcode: what a scanner reads from it, and how it is printed.

    ``data`` is the text the daemon receives after the scanner's AIM identifier;
    for GS1 it is the element string in its human-readable form, ``(01)…``.
    """

    data: str
    symbology: Symbology
    gs1: bool = False


@dataclass(frozen=True, slots=True)
class ControlLabel:
    code: Code
    meaning: str


@dataclass(frozen=True, slots=True)
class StationSheet:
    station: Station
    labels: tuple[ControlLabel, ...]
    notes: tuple[str, ...]

    @property
    def title(self) -> str:
        return f"{self.station.id}: {self.station.mode.value} station"


@dataclass(frozen=True, slots=True)
class CardLabel:
    code: Code
    line: CardLine


@dataclass(frozen=True, slots=True)
class PartLabel:
    code: Code
    part: PartLine
    gtin: str | None


@dataclass(frozen=True, slots=True)
class Written:
    """What a PDF holds: its pages and its labels."""

    pages: int
    labels: int


class LabelError(ValueError):
    """A label that cannot be printed as asked (a QTY: the station refuses, say)."""


def code_for(data: str, wanted: Symbology, fallbacks: list[str]) -> Code:
    """``data`` in ``wanted``, or as Data Matrix when Code 128 cannot carry it well."""
    if wanted is Symbology.CODE128 and not (data.isascii() and len(data) <= CODE128_MAX_CHARS):
        why = "is not ASCII" if not data.isascii() else f"is over {CODE128_MAX_CHARS} characters"
        fallbacks.append(f"{data} {why}, which Code 128 cannot print readably: Data Matrix")
        return Code(data, Symbology.DATAMATRIX)
    return Code(data, wanted)


def _window(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds:g} s"


def station_sheet(
    station: Station, symbology: Symbology, extra_quantities: Iterable[Decimal] = ()
) -> StationSheet:
    """The control codes ``station`` takes, each with what it does there."""
    notes: list[str] = []
    labels: list[ControlLabel] = []
    if station.mode is StationMode.RECEIVE:
        notes.append(
            f"{station.id} is a receive station: it takes kanban cards only (scan the card "
            "of each refilled bin); VOID, QTY: and RSN: do nothing here."
        )
        return StationSheet(station, (), tuple(notes))
    ttl = f"{CONTROL_TTL_S:g} s"
    labels.append(
        ControlLabel(
            code_for(VOID, symbology, notes),
            f"undo the last scan at {station.id} within {_window(station.void_window_s)}; "
            "a second VOID steps no further back",
        )
    )
    for quantity in extra_quantities:
        if not Decimal(0) < quantity <= station.max_qty:
            raise LabelError(
                f"QTY:{format_quantity(quantity)} is refused at {station.id}: a quantity must be "
                f"above 0 and at most its max_qty, {format_quantity(station.max_qty)}"
            )
    quantities = sorted(set(STANDARD_QUANTITIES) | set(extra_quantities))
    if quantities[-1] > station.max_qty:
        notes.append(f"{station.id} takes QTY: up to {format_quantity(station.max_qty)} only.")
    labels.extend(
        ControlLabel(
            code_for(qty_code(quantity), symbology, notes),
            f"the next part scan counts {format_quantity(quantity)} (scan it within {ttl})",
        )
        for quantity in quantities
        if quantity <= station.max_qty
    )
    purpose = REASON_MODES.get(station.mode)
    if purpose is not None:
        reasons = allowed_reasons(station)
        key = f"{purpose}_reasons"
        if reasons is None and station.mode is StationMode.SCRAP:
            notes.append(
                f"No {key} listed for {station.id}: a scrap without RSN: is recorded as "
                f"{station.default_reason!r} (its default_reason); any RSN:<code> is accepted."
            )
        elif reasons is None:
            notes.append(
                f"No {key} listed for {station.id}: every issue needs an RSN:<reason> scanned "
                "first, and any printable reason is accepted, so none is printed here."
            )
        labels.extend(
            ControlLabel(
                code_for(reason_code(reason), symbology, notes),
                f"the next {purpose} is recorded as {reason} (scan it within {ttl})",
            )
            for reason in reasons or ()
        )
    return StationSheet(station, tuple(labels), tuple(notes))


def card_labels(
    lines: Sequence[CardLine], symbology: Symbology, fallbacks: list[str]
) -> list[CardLabel]:
    return [CardLabel(code_for(line.card.card, symbology, fallbacks), line) for line in lines]


def part_gtin(part: PartLine) -> str | None:
    """The item's GTIN-14: its first alias that is a GTIN with a valid check digit."""
    for alias in part.aliases:
        gtin = normalize_gtin(alias)
        if gtin is not None:
            return gtin
    return None


def part_labels(
    parts: Sequence[PartLine], symbology: Symbology | None, fallbacks: list[str]
) -> list[PartLabel]:
    """A label per part: GS1 ``(01)`` where the item has a GTIN, else its part number.

    Without a chosen symbology a GTIN prints as GS1 Data Matrix and a part number
    as Code 128; a chosen one prints every label (GS1-128 for Code 128, GS1 QR).
    """
    labels = []
    for part in parts:
        gtin = part_gtin(part)
        if gtin is not None:
            chosen = symbology or Symbology.DATAMATRIX
            labels.append(PartLabel(Code(f"(01){gtin}", chosen, gs1=True), part, gtin))
        else:
            code = code_for(part.part, symbology or Symbology.CODE128, fallbacks)
            labels.append(PartLabel(code, part, None))
    return labels
