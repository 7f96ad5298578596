"""The ``edge`` command: the parser, and the dispatch of each subcommand to its handler.

Exit codes: 0 ok, 1 failure at run time, 2 bad usage, config or input (with a
message naming the file, key or line; never a traceback). ``--json`` writes one
JSON document to stdout and nothing else.

The handlers live by what they do: ``reports`` (read-only views),
``transactions`` (posting to the ledger), ``importing`` (master data) and
``operations`` (running and looking after the node).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from edge import __version__
from edge.cli.arguments import DEFAULT_CONFIG, EXIT_FAILURE, EXIT_USAGE, UsageError
from edge.cli.importing import cmd_import
from edge.cli.install import cmd_init
from edge.cli.lifecycle import cmd_backup, cmd_migrate, cmd_restore
from edge.cli.operations import cmd_check_config, cmd_demo, cmd_devices, cmd_run
from edge.cli.reports import cmd_events, cmd_reorders, cmd_scans, cmd_stock
from edge.cli.transactions import cmd_build, cmd_count, cmd_receive, cmd_reorder_cancel, cmd_scan
from edge.config import ConfigError
from edge.masterdata.csv_files import ImportRefused
from edge.runtime.logs import configure as configure_logging
from edge.store.database import StorageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    # SUPPRESS: given before or after the command, the option is not reset by the other parser.
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help=f"config file (default: $EDGE_CONFIG, then {DEFAULT_CONFIG})",
    )
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log debug messages"
    )
    parser = _Parser(
        prog="edge",
        description="Backflush Edge: barcode scans to a durable stock ledger and MQTT events.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def command(name: str, handler: Callable[[argparse.Namespace], int], text: str) -> Any:
        child = sub.add_parser(name, help=text, description=text, parents=[common])
        child.set_defaults(handler=handler)
        return child

    run = command("run", cmd_run, "run the daemon: read scanners, commit scans, publish events")
    run.add_argument(
        "--log-mqtt",
        action="store_true",
        help="also log every MQTT packet the relay sends and receives, e.g. "
        "`edge run --log-mqtt` (paho's traces; -v alone leaves them out)",
    )
    command("devices", cmd_devices, "list input devices and serial ports that could be scanners")
    demo = command("demo", cmd_demo, "run the real pipeline on demo data, no hardware needed")
    demo.add_argument("--data", metavar="DIR", help="folder with items.csv, bom.csv, stock.csv")
    demo.add_argument("--keep", action="store_true", help="keep the demo database folder")

    imp = command("import", cmd_import, "import items, BOMs or opening stock from CSV")
    imp.add_argument("kind", choices=["items", "bom", "stock"])
    imp.add_argument("file", metavar="FILE")

    scan = command("scan", cmd_scan, "enter codes by hand, each processed as a scan")
    scan.add_argument("--station", required=True, metavar="ID")
    scan.add_argument("codes", nargs="+", metavar="CODE")

    for name, handler, text in (
        ("stock", cmd_stock, "show stock of every stocked item"),
        ("scans", cmd_scans, "show the scan journal, newest first"),
        ("events", cmd_events, "show the event outbox, oldest first"),
        ("reorders", cmd_reorders, "show open reorders"),
    ):
        child = command(name, handler, text)
        child.add_argument("--json", action="store_true", help="one JSON document on stdout")
        if name == "scans":
            child.add_argument("--limit", type=int, metavar="N", help="newest N scans only")
        if name == "events":
            child.add_argument("--pending", action="store_true", help="unpublished events only")
        if name == "reorders":
            child.add_argument("--all", action="store_true", help="closed reorders too")

    for name, handler, text in (
        ("receive", cmd_receive, "receive goods into stock"),
        ("count", cmd_count, "record a cycle count (sets on hand)"),
        ("build", cmd_build, "receive a built sub-assembly and backflush its BOM"),
    ):
        child = command(name, handler, text)
        child.add_argument("part", metavar="PART")
        child.add_argument("qty", metavar="QTY")
        if name == "receive":
            child.add_argument("--reorder", type=int, metavar="ID", help="count against reorder ID")

    reorder = command("reorder", lambda _args: EXIT_USAGE, "act on a reorder")
    actions = reorder.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    cancel = actions.add_parser("cancel", help="cancel an open reorder", parents=[common])
    cancel.add_argument("id", type=int, metavar="ID")
    cancel.set_defaults(handler=cmd_reorder_cancel)

    command("check-config", cmd_check_config, "validate the config and print it (secrets masked)")
    backup_cmd = command("backup", cmd_backup, "consistent copy of the database (online backup)")
    backup_cmd.add_argument("path", metavar="PATH")
    init = command("init", cmd_init, "write a starter config; show how to install the service")
    init.add_argument("dir", nargs="?", default=".", metavar="DIR", help="folder (default: .)")
    init.add_argument("--force", action="store_true", help="overwrite an existing DIR/edge.toml")
    init.epilog = "example: edge init ~/edge-try"
    command("migrate", cmd_migrate, "upgrade the database's schema, keeping a .pre- backup")
    restore = command("restore", cmd_restore, "put a backup in place (the service stopped)")
    restore.add_argument(
        "path", metavar="PATH", help="a file made by edge backup, e.g. /srv/edge.bak"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.verbose = getattr(args, "verbose", False)
    configure_logging(verbose=args.verbose, timestamps=args.command == "run")
    try:
        return int(args.handler(args))
    except (ConfigError, UsageError, ImportRefused) as error:
        print(f"edge {args.command}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except StorageError as error:
        print(f"edge {args.command}: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
