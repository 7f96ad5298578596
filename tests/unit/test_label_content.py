"""What each printed label says, decided from the station's settings and the catalog."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest

from edge.domain.controls import QTY_PREFIX, RSN_PREFIX, VOID
from edge.domain.model import Station, StationMode
from edge.labels.content import (
    Code,
    LabelError,
    Symbology,
    code_for,
    part_labels,
    station_sheet,
)
from edge.store.label_queries import PartLine


def codes(station: Station) -> list[str]:
    return [label.code.data for label in station_sheet(station, Symbology.CODE128).labels]


def test_a_ship_station_takes_void_and_quantities_but_no_reason() -> None:
    sheet = station_sheet(Station("PACK-1", StationMode.SHIP), Symbology.QR, [Decimal("0.5")])

    assert [label.code for label in sheet.labels] == [
        Code(text, Symbology.QR)
        for text in (VOID, "QTY:0.5", *(f"{QTY_PREFIX}{n}" for n in range(2, 11)))
    ]
    assert sheet.labels[0].meaning.startswith("undo the last scan at PACK-1 within 10 minutes")
    assert sheet.notes == ()


def test_reasons_come_from_the_list_the_station_checks() -> None:
    scrap = Station("S", StationMode.SCRAP, scrap_reasons=("DAMAGED",), issue_reasons=("X",))
    issue = Station("L", StationMode.ISSUE, scrap_reasons=("X",), issue_reasons=("TEST", "KAIZEN"))

    assert [c for c in codes(scrap) if c.startswith(RSN_PREFIX)] == ["RSN:DAMAGED"]
    assert [c for c in codes(issue) if c.startswith(RSN_PREFIX)] == ["RSN:TEST", "RSN:KAIZEN"]
    assert station_sheet(issue, Symbology.CODE128).labels[-1].meaning == (
        "the next issue is recorded as KAIZEN (scan it within 30 s)"
    )


def test_without_a_list_the_sheet_says_what_happens_instead() -> None:
    scrap = station_sheet(Station("S", StationMode.SCRAP, default_reason="NONE-GIVEN"),
                          Symbology.CODE128)  # fmt: skip
    issue = station_sheet(Station("L", StationMode.ISSUE), Symbology.CODE128)

    assert "recorded as 'NONE-GIVEN' (its default_reason)" in scrap.notes[0]
    assert "every issue needs an RSN:<reason> scanned first" in issue.notes[0]
    assert not [label for label in scrap.labels + issue.labels if RSN_PREFIX in label.code.data]


def test_a_receive_station_takes_cards_only() -> None:
    sheet = station_sheet(Station("DOCK-1", StationMode.RECEIVE), Symbology.CODE128)

    assert sheet.labels == ()
    assert "takes kanban cards only" in sheet.notes[0]


def test_quantities_stop_at_max_qty_and_an_extra_above_it_is_refused() -> None:
    station = Station("P", StationMode.SHIP, max_qty=Decimal(5), void_window_s=45)

    assert codes(station) == [VOID, "QTY:2", "QTY:3", "QTY:4", "QTY:5"]
    assert "within 45 s" in station_sheet(station, Symbology.CODE128).labels[0].meaning
    with pytest.raises(LabelError, match=r"QTY:6 is refused at P.*max_qty, 5"):
        station_sheet(station, Symbology.CODE128, [Decimal(6)])
    with pytest.raises(LabelError, match="QTY:0 is refused"):
        station_sheet(station, Symbology.CODE128, [Decimal(0)])


@pytest.mark.parametrize(
    ("data", "printed", "why"),
    [
        ("BRKT/2 L", Symbology.CODE128, None),
        ("A" * 20, Symbology.CODE128, None),
        ("A" * 21, Symbology.DATAMATRIX, "is over 20 characters"),
        ("LAGER-Ø8", Symbology.DATAMATRIX, "is not ASCII"),
    ],
)
def test_code_128_gives_way_to_data_matrix_where_it_cannot_carry_the_code(
    data: str, printed: Symbology, why: str | None
) -> None:
    notes: list[str] = []

    assert code_for(data, Symbology.CODE128, notes) == Code(data, printed)
    assert code_for(data, Symbology.QR, []) == Code(data, Symbology.QR)
    assert [why in note for note in notes] == ([] if why is None else [True])


def test_a_part_with_a_gtin_alias_prints_gs1() -> None:
    parts = [
        PartLine("FG-1", "", "EA", ("CUST-9", "4012345000016")),  # GTIN-13, padded to 14
        PartLine("FG-2", "", "EA", ("4012345000017",)),  # a bad check digit is no GTIN
    ]

    default, qr = part_labels(parts, None, []), part_labels(parts, Symbology.QR, [])

    assert [label.code for label in default] == [
        Code("(01)04012345000016", Symbology.DATAMATRIX, gs1=True),
        Code("FG-2", Symbology.CODE128),
    ]
    assert [label.code.symbology for label in qr] == [Symbology.QR, Symbology.QR]
    assert default[0].gtin == "04012345000016"


def test_no_module_but_the_labels_drawing_imports_reportlab_or_zxing_cpp() -> None:
    # Every module of the product, imported in a fresh interpreter, as `edge run` and every
    # other command would: only edge.labels.pages and edge.labels.symbols may load them.
    script = """
import importlib, pkgutil, sys
import edge, hardware
drawing = {"edge.labels.pages", "edge.labels.symbols"}
for package in (edge, hardware):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        skip = module.name in drawing or module.name.endswith("__main__")
        if not skip and ".migrations" not in module.name:
            importlib.import_module(module.name)
from edge.cli.main import build_parser, load_handler
build_parser()
load_handler("edge.cli.operations:cmd_run")
loaded = sorted(name for name in sys.modules if name.split(".")[0] in {"reportlab", "zxingcpp"})
print(len(sys.modules), loaded)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    count, loaded = result.stdout.split(" ", 1)
    assert int(count) > 300  # the product's modules were imported, with what they import
    assert loaded.strip() == "[]"
