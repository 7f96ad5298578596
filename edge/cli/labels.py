"""``edge labels station|cards|parts``: PDFs whose barcodes decode to what the daemon accepts.

The drawing libraries are the optional ``labels`` extra; they are imported
here, when one of these commands runs, and nowhere else (the daemon never
loads them). Without them the command says how to install them.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

from edge.cli.arguments import (
    EXIT_FAILURE,
    EXIT_OK,
    UsageError,
    open_reader,
    quantity_arg,
    read_config,
)
from edge.labels.content import (
    LabelError,
    Symbology,
    Written,
    card_labels,
    part_labels,
    station_sheet,
)

EXTRA_HINT = "pip install 'backflush-edge[labels]'"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _pages() -> ModuleType | None:
    """edge.labels.pages with its libraries, or None after telling how to install them."""
    try:
        from edge.labels import pages  # noqa: PLC0415 - the optional extra, only here
    except ImportError as error:
        missing = (error.name or "").partition(".")[0]
        if missing not in {"reportlab", "zxingcpp", "PIL"}:
            raise
        print(
            f"edge labels: {missing} is not installed; it draws the labels: {EXTRA_HINT}",
            file=sys.stderr,
        )
        return None
    return pages


def _out(args: argparse.Namespace, default: str) -> Path:
    return Path(args.out) if args.out else Path(_UNSAFE.sub("_", default))


def _written(path: Path, written: Written, args: argparse.Namespace, notes: list[str]) -> int:
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    pages, labels = written.pages, written.labels
    paper = "A4" if args.page == "a4" else "Letter"
    print(
        f"wrote {path}: {pages} page{'s' if pages != 1 else ''}, "
        f"{labels} label{'s' if labels != 1 else ''} ({paper}; print at 100 % scale)"
    )
    return EXIT_OK


def cmd_station(args: argparse.Namespace) -> int:
    from edge.cli.transactions import configured_station  # noqa: PLC0415 - a config read only
    from edge.runtime.bootstrap import station_from_config  # noqa: PLC0415

    quantities = [quantity_arg(text) for text in args.qty or ()]
    config = read_config(args)
    station = station_from_config(configured_station(config, args.id))
    try:
        sheet = station_sheet(station, Symbology(args.symbology), quantities)
    except LabelError as error:
        raise UsageError(str(error)) from None
    pages = _pages()
    if pages is None:
        return EXIT_FAILURE
    path = _out(args, f"station-{station.id}.pdf")
    written = pages.write_station_sheet(path, sheet, args.page, config.site.id)
    return _written(path, written, args, [])


def cmd_cards(args: argparse.Namespace) -> int:
    from edge.store import card_queries  # noqa: PLC0415 - only this command reads cards

    connection = open_reader(args)
    try:
        lines = card_queries.cards(connection, datetime.now(UTC), part=args.part)
    finally:
        connection.close()
    if not lines:
        which = f" of {args.part}" if args.part else ""
        raise UsageError(f"no kanban cards{which} to print (edge import cards FILE adds them)")
    notes: list[str] = []
    labels = card_labels(lines, Symbology(args.symbology), notes)
    pages = _pages()
    if pages is None:
        return EXIT_FAILURE
    path = _out(args, f"kanban-cards-{args.part}.pdf" if args.part else "kanban-cards.pdf")
    return _written(path, pages.write_cards(path, labels, args.page), args, notes)


def cmd_parts(args: argparse.Namespace) -> int:
    from edge.store.label_queries import label_parts  # noqa: PLC0415

    connection = open_reader(args)
    try:
        parts = label_parts(connection, args.part)
    finally:
        connection.close()
    unknown = sorted(set(args.part or ()) - {part.part for part in parts})
    if unknown:
        raise UsageError(f"unknown part {', '.join(map(repr, unknown))}")
    if not parts:
        raise UsageError("no items to label (edge import items FILE adds them)")
    notes: list[str] = []
    symbology = Symbology(args.symbology) if args.symbology else None
    labels = part_labels(parts, symbology, notes)
    pages = _pages()
    if pages is None:
        return EXIT_FAILURE
    path = _out(args, "part-labels.pdf")
    return _written(path, pages.write_parts(path, labels, args.page), args, notes)
