"""Printed labels read back as a scanner reads them: pdftoppm renders, zxing-cpp decodes.

:func:`read_pdf` returns, page by page, what a scanner that sends its AIM
symbology identifier transmits for each barcode: the identifier (``]C0``,
``]d2``, ``]Q1``, ...) then the symbol's bytes as UTF-8, GS1 element strings
with their separators. That text is what the tests hand to ``edge scan``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import zxingcpp
from PIL import Image  # pillow comes with reportlab (the labels extra)

# Modest: each module of the smallest printed symbol still spans two pixels or more.
DPI = 100


@dataclass(frozen=True)
class Read:
    symbology: str  # the AIM identifier, e.g. "]C0"
    text: str  # the symbol's bytes as UTF-8

    @property
    def sent(self) -> str:
        """What a scanner sends with its AIM identifier on."""
        return self.symbology + self.text


def read_pdf(pdf: Path, dpi: int = DPI) -> list[list[Read]]:
    """Every barcode on every page of ``pdf``, top to bottom, left to right."""
    assert shutil.which("pdftoppm"), "pdftoppm (Debian poppler-utils) is needed: see scripts/test"
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            ["pdftoppm", "-r", str(dpi), "-gray", "-png", str(pdf), f"{folder}/page"],
            check=True,
            timeout=120,
        )
        pages = []
        for png in sorted(Path(folder).glob("page-*.png"), key=lambda p: int(p.stem[5:])):
            with Image.open(png) as image:
                found = zxingcpp.read_barcodes(image, text_mode=zxingcpp.TextMode.Plain)
            found.sort(key=lambda b: (round(b.position.top_left.y / 20), b.position.top_left.x))
            pages.append([Read(b.symbology_identifier, b.bytes.decode("utf-8")) for b in found])
    return pages


def pdf_text(pdf: Path) -> str:
    """The PDF's text, as pdftotext (poppler-utils, beside pdftoppm) extracts it."""
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
