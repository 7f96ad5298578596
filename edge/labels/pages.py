"""The printed pages: a station's sheet, and grids of cards and part labels with cut marks.

Sizes are in points as reportlab measures them; every label fits its cell at
100 % scale, which is how the sheets must be printed (no "fit to page").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

from reportlab.lib.pagesizes import A4, letter
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from edge.labels.content import CardLabel, Code, PartLabel, StationSheet, Symbology, Written
from edge.labels.symbols import Box, draw

PageName = Literal["a4", "letter"]
PAGE_SIZES: Final[dict[str, tuple[float, float]]] = {"a4": A4, "letter": letter}
MARGIN: Final[float] = 12 * mm
# Vera ships with reportlab and covers more than the PDF core fonts' Latin-1,
# so part numbers and descriptions print as they are spelled.
FONT, BOLD = "Vera", "VeraBd"
L = TypeVar("L")


def _canvas(path: Path, page: PageName, title: str) -> tuple[Any, float, float]:
    for name, file in ((FONT, "Vera.ttf"), (BOLD, "VeraBd.ttf")):
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, file))
    width, height = PAGE_SIZES[page]
    canvas = Canvas(str(path), pagesize=(width, height), pageCompression=1)
    canvas.setTitle(title)
    canvas.setCreator("Backflush Edge")
    return canvas, width, height


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if line and pdfmetrics.stringWidth(candidate, font, size) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return [*lines, line] if line else lines


def _text(canvas: Any, at: tuple[float, float], text: str, font: str, size: float) -> None:
    canvas.setFont(font, size)
    canvas.drawString(*at, text)


def _fitted(text: str, font: str, size: float, width: float) -> float:
    """``size``, or the smaller size at which ``text`` fits ``width`` (a 64-character id)."""
    natural: float = pdfmetrics.stringWidth(text, font, size)
    return min(size, size * width / max(1.0, natural))


def _symbol_height(code: Code, bar: float, square: float) -> float:
    return bar if code.symbology is Symbology.CODE128 else square


def write_station_sheet(path: Path, sheet: StationSheet, page: PageName, site: str) -> Written:
    """The station's control codes, two columns of barcode, code and meaning, page after page."""
    canvas, width, height = _canvas(path, page, f"Station sheet {sheet.station.id}")
    columns, cell_height = 2, 30 * mm
    cell_width = (width - 2 * MARGIN) / columns
    pages = 0

    def heading() -> float:
        top = height - MARGIN
        _text(canvas, (MARGIN, top - 16), sheet.title, BOLD, 16)
        _text(canvas, (MARGIN, top - 30), f"site {site}: scan a code, then the part", FONT, 9)
        y = top - 44
        for note in sheet.notes:
            for line in _wrap(note, FONT, 8.5, width - 2 * MARGIN):
                _text(canvas, (MARGIN, y), line, FONT, 8.5)
                y -= 11
        return y - 6

    top = heading()
    pages = 1
    slot = 0
    for label in sheet.labels:
        row, column = divmod(slot, columns)
        cell_top = top - row * cell_height
        if cell_top - cell_height < MARGIN:
            canvas.showPage()
            pages += 1
            top, slot = heading(), 0
            row, column, cell_top = 0, 0, top
        x = MARGIN + column * cell_width
        symbol_height = _symbol_height(label.code, 10 * mm, 16 * mm)
        drawn_width, _ = draw(canvas, label.code, Box(x, cell_top, cell_width - 6 * mm,
                                                      symbol_height))  # fmt: skip
        if label.code.symbology is Symbology.CODE128:
            text_x, text_y = x, cell_top - symbol_height - 12
        else:  # beside a square symbol
            text_x, text_y = x + drawn_width + 3 * mm, cell_top - 14
        room = x + cell_width - 4 * mm - text_x
        shown = label.code.data
        _text(canvas, (text_x, text_y), shown, BOLD, _fitted(shown, BOLD, 11, room))
        for number, line in enumerate(_wrap(label.meaning, FONT, 8, room)[:3]):
            _text(canvas, (text_x, text_y - 11 - number * 10), line, FONT, 8)
        slot += 1
    canvas.showPage()
    canvas.save()
    return Written(pages, len(sheet.labels))


def _cut_marks(canvas: Any, xs: Sequence[float], ys: Sequence[float]) -> None:
    """Short lines at every cut, outside the grid, and a small cross where cuts meet inside."""
    canvas.saveState()
    canvas.setLineWidth(0.3)
    reach = 4 * mm
    for x in xs:
        canvas.line(x, ys[0] + 1 * mm, x, ys[0] + 1 * mm + reach)
        canvas.line(x, ys[-1] - 1 * mm, x, ys[-1] - 1 * mm - reach)
    for y in ys:
        canvas.line(xs[0] - 1 * mm, y, xs[0] - 1 * mm - reach, y)
        canvas.line(xs[-1] + 1 * mm, y, xs[-1] + 1 * mm + reach, y)
    for x in xs[1:-1]:
        for y in ys[1:-1]:
            canvas.line(x - 1.5 * mm, y, x + 1.5 * mm, y)
            canvas.line(x, y - 1.5 * mm, x, y + 1.5 * mm)
    canvas.restoreState()


def _grid(
    path: Path,
    page: PageName,
    title: str,
    labels: Sequence[L],
    *,
    shape: tuple[int, int, float],
    fill: Callable[[Any, L, Box], None],
) -> Written:
    """``labels`` in a grid of ``shape`` (columns, rows, cell height), cut marks on every page."""
    canvas, width, height = _canvas(path, page, title)
    columns, rows, cell_height = shape
    cell_width = (width - 2 * MARGIN - 10 * mm) / columns
    left = (width - columns * cell_width) / 2
    top = (height + rows * cell_height) / 2
    per_page = columns * rows
    pages = max(1, -(-len(labels) // per_page))
    for number in range(pages):
        on_page = labels[number * per_page : (number + 1) * per_page]
        used_rows = -(-len(on_page) // columns) if on_page else 1
        xs = [left + c * cell_width for c in range(columns + 1)]
        ys = [top - r * cell_height for r in range(used_rows + 1)]
        _cut_marks(canvas, xs, ys)
        for index, label in enumerate(on_page):
            row, column = divmod(index, columns)
            fill(canvas, label, Box(xs[column], ys[row], cell_width, cell_height))
        canvas.setFont(FONT, 7)
        canvas.drawRightString(width - MARGIN, MARGIN / 2, f"{title}, page {number + 1} of {pages}")
        canvas.showPage()
    canvas.save()
    return Written(pages, len(labels))


def _card(canvas: Any, label: CardLabel, cell: Box) -> None:
    pad = 5 * mm
    x, inner = cell.x + pad, cell.width - 2 * pad
    line = label.line
    card = line.card
    _text(canvas, (x, cell.top - pad - 12), card.card, BOLD, _fitted(card.card, BOLD, 14, inner))
    symbol_height = _symbol_height(label.code, 17 * mm, 24 * mm)
    draw(canvas, label.code, Box(x, cell.top - pad - 18, inner, symbol_height))
    y = cell.top - pad - 18 - symbol_height - 13
    what = f"{card.part}   {card.container_qty} {line.uom}"
    _text(canvas, (x, y), what, BOLD, _fitted(what, BOLD, 11, inner))
    for text in _wrap(line.description, FONT, 8.5, inner)[:2]:
        y -= 11
        _text(canvas, (x, y), text, FONT, 8.5)
    if card.location:
        y -= 11
        _text(canvas, (x, y), f"location: {card.location}", FONT, 8.5)
    _text(canvas, (x, cell.top - cell.height + pad), "scan when this bin is empty", BOLD, 9)


def write_cards(path: Path, labels: Sequence[CardLabel], page: PageName) -> Written:
    """Kanban cards, two columns of four, the card id as a large barcode."""
    return _grid(path, page, "Kanban cards", labels, shape=(2, 4, 64 * mm), fill=_card)


def _part(canvas: Any, label: PartLabel, cell: Box) -> None:
    pad = 3 * mm
    x, inner = cell.x + pad, cell.width - 2 * pad
    symbol_height = _symbol_height(label.code, 11 * mm, 22 * mm)
    drawn_width, _ = draw(canvas, label.code, Box(x, cell.top - pad, inner, symbol_height))
    part = label.part
    if label.code.symbology is Symbology.CODE128:
        text_x, y, room = x, cell.top - pad - symbol_height - 11, inner
    else:
        text_x, y = x + drawn_width + 2 * mm, cell.top - pad - 10
        room = cell.x + cell.width - pad - text_x
    _text(canvas, (text_x, y), part.part, BOLD, _fitted(part.part, BOLD, 10, room))
    lines = _wrap(part.description, FONT, 7.5, room)[:2]
    if label.gtin is not None:
        lines.append(f"(01) {label.gtin}")
    lines.append(part.uom)
    for text in lines:
        y -= 9
        _text(canvas, (text_x, y), text, FONT, 7.5)


def write_parts(path: Path, labels: Sequence[PartLabel], page: PageName) -> Written:
    """Part-number labels, two columns of eight."""
    return _grid(path, page, "Part labels", labels, shape=(2, 8, 31 * mm), fill=_part)
