"""`edge labels` round trip: print a PDF, render it, decode every barcode, scan what was read.

Each barcode is read back from the page with a real decoder (tests/printed.py)
and handed to ``edge scan`` at the station it was printed for, as a scanner
with its AIM identifier on would send it; what the scan did is read from the
journal and the ledger, not from the exit code alone.
"""

from __future__ import annotations

import re
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.e2e.conftest import CONFIG, DemoCatalog, Edge, copy_database, describe, make_edge
from tests.printed import Read, pdf_text, read_pdf

REASONS = 'scrap_reasons = ["DAMAGED", "TEST"]', 'scrap_reasons = ["DAMAGED", "WRONG-PART"]'
STATIONS = (
    CONFIG.replace(*REASONS)
    + """
[[station]]
id = "LAB-1"
mode = "issue"
issue_reasons = ["ENGINEERING", "TEST"]

[[station]]
id = "SCRAP-2"
mode = "scrap"
default_reason = "NOT-GIVEN"
max_qty = 8
void_window_s = 90
"""
)
QTYS = [f"QTY:{n}" for n in range(2, 11)]
PART, GTIN_SENT = "FG-PUMP-100", "]d20109506000134352"  # a demo part, and its GTIN label


def stations_floor(demo_catalog: DemoCatalog, tmp_path: Path) -> Edge:
    floor = make_edge(tmp_path / "floor", STATIONS)
    copy_database(demo_catalog.folder, floor.workdir)
    return floor


def journal(edge: Edge, station: str) -> list[dict[str, Any]]:
    """Each scan at ``station`` in order, with the transaction it made (if any)."""
    connection = sqlite3.connect(edge.database)
    connection.row_factory = sqlite3.Row
    try:
        rows = connection.execute(
            "SELECT s.code, s.status, s.reason AS rejected, t.kind, t.part, t.quantity, t.reason "
            "FROM scans AS s LEFT JOIN transactions AS t ON t.scan_id = s.id "
            "WHERE s.station = ? ORDER BY s.id",
            (station,),
        ).fetchall()
    finally:
        connection.close()
    return [dict(row) for row in rows]


def printed(edge: Edge, *args: str) -> tuple[Path, list[list[Read]], str]:
    """Run ``edge labels ARGS --out x.pdf``: the file, its barcodes read back, and stdout."""
    out = edge.workdir / f"{args[0]}-{len(list(edge.workdir.glob('*.pdf')))}.pdf"
    result = edge.ok("labels", *args, "--out", str(out))
    return out, read_pdf(out), result.stdout


def test_each_station_sheet_scans_as_the_control_codes_it_prints(
    demo_catalog: DemoCatalog, tmp_path: Path
) -> None:
    edge = stations_floor(demo_catalog, tmp_path)
    pack_pdf, pack, said = printed(edge, "station", "PACK-1", "--qty", "25", "0.5")
    _, scrap, _ = printed(edge, "station", "SCRAP-1", "--symbology", "datamatrix")
    _, lab, _ = printed(edge, "station", "LAB-1", "--symbology", "qr", "--page", "letter")

    assert said == f"wrote {pack_pdf}: 1 page, 12 labels (A4; print at 100 % scale)\n"
    pack_codes = [read.text for page in pack for read in page]
    assert pack_codes == ["VOID", "QTY:0.5", *QTYS, "QTY:25"]
    assert {read.symbology for page in pack for read in page} == {"]C0"}  # Code 128
    assert [read.text for read in scrap[0]] == ["VOID", *QTYS, "RSN:DAMAGED", "RSN:WRONG-PART"]
    assert {read.symbology for read in scrap[0]} == {"]d1"}  # Data Matrix
    assert [read.text for read in lab[0]] == ["VOID", *QTYS, "RSN:ENGINEERING", "RSN:TEST"]
    assert {read.symbology for read in lab[0]} == {"]Q1"}  # QR
    text = " ".join(pdf_text(pack_pdf).split())
    assert "undo the last scan at PACK-1 within 10 minutes" in text

    # Ship station: a part, VOID, then each QTY: before the part's GTIN label.
    sent = {read.text: read.sent for read in pack[0]}
    scans = [PART, sent["VOID"]]
    for code in pack_codes[1:]:
        scans += [sent[code], GTIN_SENT]
    edge.ok("scan", "--station", "PACK-1", *scans)
    rows = journal(edge, "PACK-1")
    assert {row["status"] for row in rows} == {"accepted"}, rows
    assert (rows[1]["kind"], rows[1]["part"], rows[1]["quantity"]) == ("void", PART, "1")
    quantities = [Decimal(code.removeprefix("QTY:")) for code in pack_codes[1:]]
    assert [(row["kind"], row["part"], Decimal(row["quantity"])) for row in rows[3::2]] == [
        ("backflush", PART, quantity) for quantity in quantities
    ]

    # Scrap and issue stations: each RSN: is the reason of the next part scan.
    for station, reads, kind in (("SCRAP-1", scrap[0], "scrap"), ("LAB-1", lab[0], "issue")):
        reasons = [read for read in reads if read.text.startswith("RSN:")]
        by_code = {read.text: read.sent for read in reads}
        scans = []
        for reason in reasons:
            scans += [reason.sent, by_code["QTY:4"], "RM-CLIP"]
        scans += [by_code["VOID"]]
        edge.ok("scan", "--station", station, *scans)
        rows = journal(edge, station)
        assert {row["status"] for row in rows} == {"accepted"}, rows
        posted = [(row["kind"], row["part"], row["quantity"], row["reason"]) for row in rows[2::3]]
        assert posted == [
            (kind, "RM-CLIP", "4", reason.text.removeprefix("RSN:")) for reason in reasons
        ]
        assert rows[-1]["kind"] == "void"


def test_a_station_without_reasons_prints_its_default_and_its_own_limits(
    demo_catalog: DemoCatalog, tmp_path: Path
) -> None:
    edge = stations_floor(demo_catalog, tmp_path)
    pdf, pages, _ = printed(edge, "station", "SCRAP-2", "--page", "letter")

    codes = [read.text for read in pages[0]]
    assert codes == ["VOID", *QTYS[:7]]  # max_qty = 8: QTY:9 and QTY:10 would be refused
    text = " ".join(pdf_text(pdf).split())
    assert "a scrap without RSN: is recorded as 'NOT-GIVEN' (its default_reason)" in text
    assert "undo the last scan at SCRAP-2 within 90 s" in text
    assert "SCRAP-2 takes QTY: up to 8 only." in text
    # What the note promises is what the station does.
    sent = {read.text: read.sent for read in pages[0]}
    edge.ok("scan", "--station", "SCRAP-2", sent["QTY:8"], "RM-CLIP")
    assert journal(edge, "SCRAP-2")[-1]["reason"] == "NOT-GIVEN"
    assert journal(edge, "SCRAP-2")[-1]["quantity"] == "8"

    refused = edge("labels", "station", "SCRAP-2", "--qty", "12")
    assert refused.returncode == 2, describe(refused)
    assert "QTY:12 is refused at SCRAP-2" in refused.stderr
    assert "at most its max_qty, 8" in refused.stderr
    bad = edge("labels", "station", "SCRAP-2", "--qty", "2,5")
    assert bad.returncode == 2, describe(bad)
    assert "the quantity '2,5' is not an exact decimal" in bad.stderr
    unknown = edge("labels", "station", "PACK-9")
    assert unknown.returncode == 2, describe(unknown)
    assert "unknown station 'PACK-9'" in unknown.stderr


CARE_ITEMS = """\
part,description,uom,stocked,reorder_point,reorder_qty,max_qty,order_multiple,lead_time_days,aliases,replenishment
BRKT/2 L,Bracket 2 left,EA,true,,,,,,,
M8 x 20 DIN 933,Hex screw M8 x 20,EA,true,,,,,,,
LAGER-Ø8,Kugellager Ø8 mm,EA,true,,,,,,,
GEHÄUSE-ÖL-Ä,Ölgehäuse,EA,true,,,,,,,
HOUSING-CAST-ALU-2026-REV-C,Long part number (over 20 characters),EA,true,,,,,,,
FG-VALVE,Valve with a GTIN,EA,true,,,,,,04012345000016|VALVE-OLD,
"""
CARE_PARTS = [line.split(",")[0] for line in CARE_ITEMS.splitlines()[1:]]


def test_part_labels_resolve_to_their_parts_whatever_their_characters(edge: Edge) -> None:
    edge.ok("import", "items", str(edge.write("items.csv", CARE_ITEMS)))
    out = edge.workdir / "parts.pdf"

    result = edge.ok("labels", "parts", "--out", str(out))

    assert result.stdout == f"wrote {out}: 1 page, 6 labels (A4; print at 100 % scale)\n"
    # Code 128 carries ASCII only and would print a long code too narrow: Data Matrix instead.
    assert "note: LAGER-Ø8 is not ASCII, which Code 128 cannot print readably" in result.stderr
    assert "note: HOUSING-CAST-ALU-2026-REV-C is over 20 characters" in result.stderr
    reads = [read for page in read_pdf(out) for read in page]
    by_symbology = {read.text: read.symbology for read in reads}
    assert by_symbology["BRKT/2 L"] == "]C0"
    assert by_symbology["LAGER-Ø8"] == "]d1"
    assert by_symbology["0104012345000016"] == "]d2"  # GS1 Data Matrix, (01) from the alias
    for symbology in ("code128", "qr"):
        again = edge.workdir / f"parts-{symbology}.pdf"
        edge.ok("labels", "parts", "--symbology", symbology, "--out", str(again))
        reads += [read for page in read_pdf(again) for read in page]
    assert {read.symbology for read in reads if read.text == "0104012345000016"} == {
        "]d2", "]C1", "]Q3"
    }  # fmt: skip

    edge.ok("scan", "--station", "SCRAP-1", *(read.sent for read in reads))

    rows = journal(edge, "SCRAP-1")
    assert len(rows) == 18
    assert {row["status"] for row in rows} == {"accepted"}, rows
    expected = {**{part: part for part in CARE_PARTS}, "0104012345000016": "FG-VALVE"}
    assert [row["part"] for row in rows] == [expected[read.text] for read in reads]


CARDS = 200


def test_two_hundred_cards_print_across_pages_and_each_scans_as_its_card(edge: Edge) -> None:
    items = "part,description,uom,stocked,replenishment\nRM-CLIP,Spring clip,EA,true,kanban\n"
    items += "R-GREASE,Bearing grease,KG,true,kanban\n"
    edge.ok("import", "items", str(edge.write("items.csv", items)))
    ids = [f"KB-{number:04d}" for number in range(1, CARDS)] + ["KB/7 Ø"]
    rows = [f"{card},RM-CLIP,100,line 2 rack {number % 7}" for number, card in enumerate(ids)]
    rows[-1] = "KB/7 Ø,R-GREASE,2.5,store room"
    edge.ok("import", "cards", str(edge.write("cards.csv", "card,part,container_qty,location\n"
                                                         + "\n".join(rows) + "\n")))  # fmt: skip

    result = edge.ok("labels", "cards")

    out = edge.workdir / "kanban-cards.pdf"  # the default name
    assert result.stdout == f"wrote {out.name}: 25 pages, 200 labels (A4; print at 100 % scale)\n"
    pages = read_pdf(out)
    assert len(pages) == 25
    assert all(len(page) == 8 for page in pages)
    reads = [read for page in pages for read in page]
    assert sorted(read.text for read in reads) == sorted(ids)  # each card once
    text = " ".join(pdf_text(out).split())
    assert text.count("scan when this bin is empty") == CARDS
    assert "R-GREASE 2.5 KG" in text
    assert "location: store room" in text
    assert "note: KB/7 Ø is not ASCII" in result.stderr

    scanned = edge.ok("scan", "--station", "PACK-1", *(read.sent for read in reads))

    assert scanned.stdout.count("empty: refill requested") == CARDS
    journaled = journal(edge, "PACK-1")
    assert [row["kind"] for row in journaled] == ["kanban-empty"] * CARDS
    assert {card["card"]: card["state"] for card in edge.json("cards")} == dict.fromkeys(
        ids, "empty"
    )
    one = edge.ok("labels", "cards", "--part", "R-GREASE", "--page", "letter")
    assert one.stdout.startswith("wrote kanban-cards-R-GREASE.pdf: 1 page, 1 label (Letter")


def test_labels_without_the_extra_say_how_to_install_it(edge: Edge) -> None:
    # A reportlab that cannot be imported, first on the path, as on an install without the extra.
    blocked = edge.workdir / "blocked"
    blocked.mkdir()
    (blocked / "reportlab.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'reportlab'\", name='reportlab')\n"
    )
    result = edge("labels", "station", "PACK-1", PYTHONPATH=str(blocked))

    assert result.returncode == 1, describe(result)
    assert "pip install 'backflush-edge[labels]'" in result.stderr
    assert not list(edge.workdir.glob("*.pdf"))
    assert re.search(r"reportlab is not installed", result.stderr)
