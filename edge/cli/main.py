"""The ``edge`` command: one function per subcommand, translating arguments into calls.

Exit codes: 0 ok, 1 failure at run time, 2 bad usage, config or input (with a
message naming the file, key or line; never a traceback). ``--json`` writes one
JSON document to stdout and nothing else.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

from edge import __version__
from edge.cli.terminal import render_table
from edge.config import Config, ConfigError, config_warnings, format_config, load_config
from edge.domain import exactjson
from edge.domain.inventory import Inventory, Rejection
from edge.domain.model import PartError, validate_part
from edge.domain.quantity import QuantityError, format_quantity, parse_quantity
from edge.domain.scanning import ScanInput
from edge.masterdata.bom import import_bom
from edge.masterdata.csv_files import ImportRefused
from edge.masterdata.items import import_items
from edge.masterdata.stock import import_stock
from edge.runtime.bootstrap import build_service
from edge.runtime.clock import SystemClock
from edge.service import InventoryService, PendingScan
from edge.store import queries
from edge.store.database import StorageError, backup
from edge.store.unit_of_work import SqlUnitOfWork
from hardware.barcode import decode

DEFAULT_CONFIG = Path("/etc/backflush-edge/edge.toml")
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments or input: exit 2 with the message."""


# --- helpers ------------------------------------------------------------------
def config_path(args: argparse.Namespace) -> Path:
    if getattr(args, "config", None) is not None:
        return Path(args.config)
    from_env = os.environ.get("EDGE_CONFIG")
    return Path(from_env) if from_env else DEFAULT_CONFIG


def load(args: argparse.Namespace) -> Config:
    return load_config(config_path(args))


def open_service(args: argparse.Namespace, *, must_exist: bool = False) -> InventoryService:
    config = load(args)
    if must_exist and not config.database.path.exists():
        raise StorageError(
            f"no database at {config.database.path} (set database.path in "
            f"{config.source}, or import items first)"
        )
    return build_service(config)


def quantity_arg(text: str) -> Decimal:
    try:
        return parse_quantity(text)
    except QuantityError as error:
        raise UsageError(f"QTY: {error}") from None


def part_arg(text: str) -> str:
    try:
        return validate_part(text)
    except PartError as error:
        raise UsageError(f"PART: {error}") from None


def print_json(document: Any) -> None:
    sys.stdout.write(exactjson.dumps(document) + "\n")


def transact(
    service: InventoryService, operation: Callable[[Inventory, SqlUnitOfWork], str]
) -> int:
    try:
        message = service.transact(operation)
    except Rejection as rejection:
        raise UsageError(rejection.message) from None
    print(message)
    return EXIT_OK


def import_progress(name: str) -> Callable[[int], None]:
    def report(rows: int) -> None:
        print(f"{name}: {rows} rows read ...", file=sys.stderr, flush=True)

    return report


# --- commands -----------------------------------------------------------------
def cmd_import(args: argparse.Namespace) -> int:
    service = open_service(args)
    path = Path(args.file)
    progress = import_progress(path.name)
    if args.kind == "items":
        summary = import_items(service, path, progress)
    elif args.kind == "bom":
        summary = import_bom(service, path, progress)
    else:
        summary = import_stock(service, path, SystemClock().moment(), progress)
    print(f"imported {path.name}: {summary.describe(args.kind)}")
    return EXIT_OK


def cmd_scan(args: argparse.Namespace) -> int:
    config = load(args)
    try:
        config.station(args.station)
    except KeyError:
        known = ", ".join(station.id for station in config.stations) or "none configured"
        raise UsageError(f"unknown station {args.station!r} (stations: {known})") from None
    service = build_service(config)
    clock = SystemClock()
    all_accepted = True
    for code in args.codes:
        data = code.encode("utf-8")
        scan = ScanInput(scanner="cli", station=args.station, data=data, at=clock.moment())
        [outcome] = service.process_scans([PendingScan(scan, decode(data))])
        all_accepted &= outcome.good
        status = outcome.status.upper()
        reason = f" {outcome.reason}:" if outcome.reason else ""
        print(f"{status:<9} scan {outcome.scan_id}{reason} {outcome.message}")
    return EXIT_OK if all_accepted else EXIT_FAILURE


def cmd_stock(args: argparse.Namespace) -> int:
    rows = queries.stock(open_service(args, must_exist=True).engine)
    if args.json:
        print_json([row.as_json() for row in rows])
        return EXIT_OK
    print(
        render_table(
            ["part", "on_hand", "on_order", "reorder_point", "uom", "state", "description"],
            [
                (r.part, r.on_hand, r.on_order, r.reorder_point, r.uom, r.state, r.description)
                for r in rows
            ],
        )
    )
    return EXIT_OK


def cmd_scans(args: argparse.Namespace) -> int:
    rows = queries.scans(open_service(args, must_exist=True).engine, args.limit)
    if args.json:
        print_json(rows)
        return EXIT_OK
    print(
        render_table(
            ["scan", "at", "station", "scanner", "status", "reason", "code"],
            [
                (
                    r["scan_id"],
                    r["at"],
                    r["station"],
                    r["scanner"],
                    r["status"],
                    r["reason"],
                    r["code"][:60],
                )
                for r in rows
            ],
        )
    )
    return EXIT_OK


def cmd_events(args: argparse.Namespace) -> int:
    service = open_service(args, must_exist=True)
    rows = queries.events(service.engine, pending=args.pending)
    if args.json:
        keys = ("topic", "published", "set_aside", "last_error", "payload")
        print_json([{key: row[key] for key in keys} for row in rows])
        return EXIT_OK
    print(
        render_table(
            ["seq", "type", "published", "topic", "summary"],
            [
                (
                    r["seq"],
                    r["payload"]["type"],
                    r["published"],
                    r["topic"],
                    summarize_event(r["payload"]),
                )
                for r in rows
            ],
        )
    )
    if args.pending:
        summary = queries.outbox_summary(service.engine)
        print(
            f"\n{summary.events_pending} events and {summary.stock_pending} stock states "
            "waiting to be published"
        )
        if summary.set_aside:
            print(
                f"{summary.set_aside} of them refused by the broker (an ACL? see last_error "
                "in --json), retried with back-off without holding up the others"
            )
    return EXIT_OK


def summarize_event(payload: dict[str, Any]) -> str:
    """A short human description of an event."""
    kind = payload["type"]
    part = payload.get("part", "")
    if kind in ("backflush", "scrap", "build"):
        lines = payload.get("lines", [])
        text = f"{format_quantity(Decimal(payload['quantity']))} x {part}, {len(lines)} lines"
        return text + (f", reason {payload['reason']}" if kind == "scrap" else "")
    if kind == "low-stock":
        negative = " NEGATIVE" if payload.get("negative") else ""
        return f"{part} on hand {payload['on_hand']}{negative}"
    if kind == "reorder":
        return f"{part} order {payload['quantity']} (reorder {payload['reorder_id']})"
    if kind == "scan-rejected":
        return f"{payload['reason']}: {payload['code'][:40]}"
    if kind == "count":
        return f"{part} counted {payload['counted']}, variance {payload['variance']}"
    if kind == "receipt":
        return f"{part} received {payload['quantity']}"
    if kind == "reorder-closed":
        return f"reorder {payload['reorder_id']} {payload['reason']}"
    if kind == "void":
        return f"voided {payload.get('voided_type')} of {payload.get('part')}"
    return ""


def cmd_receive(args: argparse.Namespace) -> int:
    part, quantity = part_arg(args.part), quantity_arg(args.qty)
    at = SystemClock().moment()

    def operation(inventory: Inventory, _uow: SqlUnitOfWork) -> str:
        inventory.receive(part, quantity, at, reorder_id=args.reorder)
        return (
            f"received {format_quantity(quantity)} x {part}; on hand "
            f"{format_quantity(inventory.store.balance(part).on_hand)}, on order "
            f"{format_quantity(inventory.on_order(part))}"
        )

    return transact(open_service(args), operation)


def cmd_count(args: argparse.Namespace) -> int:
    part, counted = part_arg(args.part), quantity_arg(args.qty)
    at = SystemClock().moment()

    def operation(inventory: Inventory, _uow: SqlUnitOfWork) -> str:
        previous = inventory.store.balance(part).on_hand
        inventory.count(part, counted, at)
        return (
            f"counted {format_quantity(counted)} x {part} (was {format_quantity(previous)}, "
            f"variance {format_quantity(counted - previous)})"
        )

    return transact(open_service(args), operation)


def cmd_build(args: argparse.Namespace) -> int:
    part, quantity = part_arg(args.part), quantity_arg(args.qty)
    if quantity <= 0:
        raise UsageError("QTY: a build quantity must be greater than zero")
    at = SystemClock().moment()

    def operation(inventory: Inventory, _uow: SqlUnitOfWork) -> str:
        posted = inventory.build(part, quantity, at)
        return f"built {format_quantity(quantity)} x {part}; issued {len(posted.lines)} components"

    return transact(open_service(args), operation)


def cmd_reorders(args: argparse.Namespace) -> int:
    rows = queries.reorders(open_service(args, must_exist=True).engine, include_closed=args.all)
    if args.json:
        print_json(rows)
        return EXIT_OK
    print(
        render_table(
            ["reorder", "part", "ordered", "received", "outstanding", "status", "created_at"],
            [
                (
                    r["reorder_id"],
                    r["part"],
                    r["ordered"],
                    r["received"],
                    r["outstanding"],
                    r["status"] if r["close_reason"] is None else r["close_reason"],
                    r["created_at"],
                )
                for r in rows
            ],
        )
    )
    return EXIT_OK


def cmd_reorder_cancel(args: argparse.Namespace) -> int:
    at = SystemClock().moment()

    def operation(inventory: Inventory, _uow: SqlUnitOfWork) -> str:
        inventory.cancel_reorder(args.id, at)
        return f"reorder {args.id} cancelled"

    return transact(open_service(args), operation)


def cmd_check_config(args: argparse.Namespace) -> int:
    config = load(args)
    for warning in config_warnings(config):
        print(f"warning: {warning}", file=sys.stderr)
    print(format_config(config))
    print(f"\n{config.source}: ok", file=sys.stderr)
    return EXIT_OK


def cmd_backup(args: argparse.Namespace) -> int:
    service = open_service(args, must_exist=True)
    target = Path(args.path)
    backup(service.engine, target)
    print(f"backed up {service.engine.url.database} to {target}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from edge.runtime.daemon import Daemon  # noqa: PLC0415 - only the daemon loads paho and readers

    config = load(args)
    logging.getLogger().setLevel(logging.DEBUG if args.verbose else config.log_level)
    return Daemon(config.source).run()


def cmd_devices(_args: argparse.Namespace) -> int:
    from hardware.devices import discover, format_devices  # noqa: PLC0415

    print(format_devices(discover()))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from edge.demo.run import run_demo  # noqa: PLC0415 - the demo's imports are for it alone

    return run_demo(Path(args.data) if args.data else None, keep=args.keep)


# --- argument parsing -----------------------------------------------------------
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

    command("run", cmd_run, "run the daemon: read scanners, commit scans, publish events")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.verbose = getattr(args, "verbose", False)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        if args.command == "run"
        else "%(levelname)s %(name)s: %(message)s",
    )
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
