"""Each symbology drawn on a reportlab canvas, by the library that encodes it.

reportlab encodes Code 128 (FNC1 first for GS1-128) and QR (an ECI 26 segment
for UTF-8 text, FNC1 first for GS1 QR) itself. Its own ECC 200 Data Matrix is
one fixed size (44 x 44, C40) and cannot start with FNC1, and its other Data
Matrix needs libdmtx; so Data Matrix, GS1 included, is encoded by zxing-cpp's
writer and its modules are drawn here as they come. Text that is not ASCII is
carried as UTF-8, which is what the daemon decodes, marked with ECI 26 in the
2D symbols so that a reader that honours ECI knows it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, cast

import zxingcpp
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.code128 import Code128
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.barcode.qrencoder import QRECI, QR8bitByte, QRFNC1First
from reportlab.graphics.shapes import Drawing
from reportlab.lib.units import mm

from edge.labels.content import Code, Symbology

FNC1: Final = "\xf1"  # how reportlab's Code 128 is given FNC1
UTF8_ECI: Final = 26
MAX_MODULE: Final = 0.5 * mm  # wider bars only make a code longer, not easier to read
MIN_MODULE: Final = 0.25 * mm


@dataclass(frozen=True, slots=True)
class Box:
    """Where a symbol may go: its left edge, its top, and the room it has."""

    x: float
    top: float
    width: float
    height: float


def element_string(code: Code) -> str:
    """A GS1 code's ``(01)…`` form as the symbol carries it: the AIs and values run together.

    Only fixed-length AIs are printed here ((01) alone), so no separator is needed.
    """
    return code.data.replace("(", "").replace(")", "")


def draw(canvas: Any, code: Code, box: Box) -> tuple[float, float]:
    """Draw ``code`` at the top left of ``box``; its width and height on the page."""
    if code.symbology is Symbology.CODE128:
        return _code128(canvas, code, box)
    if code.symbology is Symbology.QR:
        return _qr(canvas, code, box)
    return _datamatrix(canvas, code, box)


def _code128(canvas: Any, code: Code, box: Box) -> tuple[float, float]:
    value = FNC1 + element_string(code) if code.gs1 else code.data
    modules = Code128(value, barWidth=1, quiet=0).width + 20  # and a 10-module quiet zone each side
    module = min(MAX_MODULE, box.width / modules)
    if module < MIN_MODULE:
        raise ValueError(f"{code.data!r} does not fit {box.width / mm:.0f} mm as Code 128")
    symbol = Code128(value, barWidth=module, barHeight=box.height, quiet=0)
    symbol.drawOn(canvas, box.x + 10 * module, box.top - box.height)
    return modules * module, box.height


def _qr(canvas: Any, code: Code, box: Box) -> tuple[float, float]:
    if code.gs1:
        value: Any = [QRFNC1First(), QR8bitByte(element_string(code))]
    elif code.data.isascii():
        value = code.data
    else:
        value = [QRECI(UTF8_ECI), QR8bitByte(code.data)]
    widget = QrCodeWidget(value, barLevel="M", barBorder=4)
    x1, y1, x2, y2 = widget.getBounds()
    side = min(box.width, box.height)
    scale = side / max(x2 - x1, y2 - y1)
    drawing = Drawing(side, side, transform=[scale, 0, 0, scale, -x1 * scale, -y1 * scale])
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, box.x, box.top - side)
    return side, side


def _datamatrix(canvas: Any, code: Code, box: Box) -> tuple[float, float]:
    options: dict[str, Any] = {"force_square": True}
    if code.gs1:
        options["gs1"] = True
    elif not code.data.isascii():
        options["eci"] = UTF8_ECI
    symbol = zxingcpp.create_barcode(code.data, zxingcpp.BarcodeFormat.DataMatrix, **options)
    image = zxingcpp.write_barcode_to_image(symbol, scale=1, add_quiet_zones=False)
    rows, columns = image.shape
    pixels = memoryview(cast(Any, image)).tobytes()  # the stub omits its buffer
    quiet = 2  # modules of light margin on each side (ISO/IEC 16022 asks for one)
    side = min(box.width, box.height)
    module = side / (max(rows, columns) + 2 * quiet)
    left, top = box.x + quiet * module, box.top - quiet * module
    canvas.saveState()
    canvas.setFillColorRGB(0, 0, 0)
    for row in range(rows):
        run_start = None
        for column in range(columns + 1):
            dark = column < columns and pixels[row * columns + column] == 0
            if dark and run_start is None:
                run_start = column
            elif not dark and run_start is not None:
                # One rectangle per run of dark modules; a hair wider so that no seam shows.
                canvas.rect(left + run_start * module, top - (row + 1) * module,
                            (column - run_start) * module + 0.01, module + 0.01,
                            stroke=0, fill=1)  # fmt: skip
                run_start = None
    canvas.restoreState()
    return side, side
