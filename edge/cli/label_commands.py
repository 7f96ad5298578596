"""The ``edge labels`` commands (edge/cli/labels.py): station sheets, kanban cards, part labels."""

from __future__ import annotations

from edge.cli.declarations import Arg, Command, arg

_PAGE = arg(
    "--page", choices=["a4", "letter"], default="a4", help="paper size (default a4), e.g. letter"
)
_SYMBOLOGY = ("code128", "datamatrix", "qr")


def _out(example: str) -> Arg:
    return arg("--out", metavar="FILE", help=f"the PDF to write (default {example}), e.g. x.pdf")


LABEL_COMMANDS: tuple[Command, ...] = (
    Command(
        "labels",
        "",
        "print station sheets, kanban cards or part labels as PDF (the labels extra)",
        actions=(
            Command(
                "station",
                "edge.cli.labels:cmd_station",
                "a station's sheet: VOID, QTY: and its RSN: codes, each with what it does",
                (
                    arg("id", metavar="ID", help="the station, e.g. PACK-1"),
                    _out("station-ID.pdf"),
                    _PAGE,
                    arg(
                        "--qty",
                        nargs="+",
                        action="extend",
                        metavar="N",
                        help="QTY: codes beside 2 to 10, e.g. --qty 12 25 0.5",
                    ),
                    arg(
                        "--symbology",
                        choices=_SYMBOLOGY,
                        default="code128",
                        help="code128 (default, every scanner) or datamatrix/qr for 2D "
                        "imagers, e.g. --symbology datamatrix",
                    ),
                ),
            ),
            Command(
                "cards",
                "edge.cli.labels:cmd_cards",
                "kanban cards from the cards table, eight to a page with cut marks",
                (
                    arg("--part", metavar="P", help="one part's cards only, e.g. --part RM-CLIP"),
                    _out("kanban-cards.pdf"),
                    _PAGE,
                    arg(
                        "--symbology",
                        choices=_SYMBOLOGY,
                        default="code128",
                        help="the card id's symbology (default code128), e.g. --symbology qr",
                    ),
                ),
            ),
            Command(
                "parts",
                "edge.cli.labels:cmd_parts",
                "part labels: GS1 Data Matrix (01) where an alias is a GTIN, else Code 128",
                (
                    arg(
                        "--part",
                        action="append",
                        metavar="P",
                        help="this part only, repeatable, e.g. --part FG-PUMP-100",
                    ),
                    _out("part-labels.pdf"),
                    _PAGE,
                    arg(
                        "--symbology",
                        choices=_SYMBOLOGY,
                        help="every label in one symbology (GS1-128 or GS1 QR for a GTIN), "
                        "e.g. --symbology code128",
                    ),
                ),
            ),
        ),
    ),
)
