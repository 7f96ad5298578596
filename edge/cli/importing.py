"""The import command: items, BOMs, opening stock or cards from CSV, with progress on stderr."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from edge.cli.arguments import EXIT_OK, open_service
from edge.masterdata.bom import import_bom
from edge.masterdata.cards import import_cards
from edge.masterdata.items import import_items
from edge.masterdata.stock import import_stock
from edge.runtime.clock import SystemClock


def import_progress(name: str) -> Callable[[str], None]:
    def report(message: str) -> None:
        print(f"{name}: {message}", file=sys.stderr, flush=True)

    return report


def cmd_import(args: argparse.Namespace) -> int:
    service = open_service(args)
    path = Path(args.file)
    progress = import_progress(path.name)
    if args.kind == "items":
        summary = import_items(service, path, progress)
    elif args.kind == "bom":
        summary = import_bom(service, path, progress)
    elif args.kind == "cards":
        summary = import_cards(service, path, progress)
    else:
        summary = import_stock(service, path, SystemClock().moment(), progress)
    print(f"imported {path.name}: {summary.describe(args.kind)}")
    return EXIT_OK
