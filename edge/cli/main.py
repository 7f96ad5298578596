"""The ``edge`` command: the parser, and the dispatch of each subcommand to its handler.

Exit codes: 0 ok, 1 failure at run time, 2 bad usage, config or input (with a
message naming the file, key or line; never a traceback). ``--json`` writes one
JSON document to stdout and nothing else.

The handlers live by what they do: ``reports`` (read-only views),
``transactions`` (posting to the ledger), ``importing`` (master data) and
``operations`` (running and looking after the node). :data:`COMMANDS` names
each handler as ``"module:function"`` and the module is imported only when its
command runs (edge/cli/declarations.py; the read-only commands are declared in
report_commands.py): building the parser imports nothing but the standard library and
the argument types, so ``edge --help`` never loads SQLAlchemy, biip or paho,
and ``edge stock`` loads only what a read needs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from edge import __version__
from edge.cli.arguments import DEFAULT_CONFIG, EXIT_FAILURE, EXIT_USAGE, count_arg
from edge.cli.declarations import Command, arg
from edge.cli.label_commands import LABEL_COMMANDS
from edge.cli.report_commands import REPORT_COMMANDS
from edge.runtime.logs import configure as configure_logging

COMMANDS: tuple[Command, ...] = (
    Command(
        "run",
        "edge.cli.operations:cmd_run",
        "run the daemon: read scanners, commit scans, publish events",
        (
            arg(
                "--log-mqtt",
                action="store_true",
                help="also log every MQTT packet the relay sends and receives, e.g. "
                "`edge run --log-mqtt` (paho's traces; -v alone leaves them out)",
            ),
        ),
    ),
    Command(
        "devices",
        "edge.cli.operations:cmd_devices",
        "list input devices and serial ports that could be scanners",
        (
            arg(
                "--json",
                action="store_true",
                help="the discovery report as JSON, e.g. --json | jq .",
            ),
        ),
    ),
    Command(
        "demo",
        "edge.cli.operations:cmd_demo",
        "run the real pipeline on demo data, no hardware needed",
        (
            arg(
                "--data",
                metavar="DIR",
                help="folder with items.csv, bom.csv, stock.csv (and cards.csv, if any), "
                "e.g. --data ./plant-data",
            ),
            arg(
                "--keep",
                action="store_true",
                help="keep the demo database folder, e.g. edge demo --keep",
            ),
        ),
    ),
    Command(
        "import",
        "edge.cli.importing:cmd_import",
        "import items, BOMs, opening stock or kanban cards from CSV",
        (
            arg(
                "kind",
                choices=["items", "bom", "stock", "cards"],
                help="what FILE holds: items, bom, stock or cards, e.g. items",
            ),
            arg("file", metavar="FILE", help="the CSV file, e.g. /srv/plant/items.csv"),
        ),
    ),
    Command(
        "scan",
        "edge.cli.transactions:cmd_scan",
        "enter codes by hand, each processed as a scan",
        (
            arg(
                "--station",
                required=True,
                metavar="ID",
                help="(required) the station scanning, e.g. --station PACK-1",
            ),
            arg(
                "codes",
                nargs="+",
                metavar="CODE",
                help="one or more codes, each a scan, e.g. QTY:3 FG-PUMP-100",
            ),
        ),
    ),
    *REPORT_COMMANDS,
    *LABEL_COMMANDS,
    Command(
        "schema",
        "edge.cli.contract:cmd_schema",
        "print the JSON Schema of a published payload (none: list them) or the AsyncAPI document",
        (
            arg(
                "name",
                nargs="?",
                metavar="NAME",
                help="e.g. event/backflush, stock, status, cmd/stock.receive or asyncapi",
            ),
        ),
    ),
    Command(
        "tail",
        "edge.cli.tail:cmd_tail",
        "follow the events a node (or a whole site) publishes, as a central consumer would",
        (
            arg("--site", metavar="SITE", help="another site's nodes, e.g. --site plant-2"),
            arg(
                "--node",
                action="append",
                metavar="NODE",
                help="a node of the site, repeatable for a partition, e.g. --node line-3",
            ),
            arg("--json", action="store_true", help="one JSON object per line, e.g. | jq ."),
            arg("--count", type=count_arg, metavar="N", help="stop after N events, e.g. 100"),
            arg("--timeout", type=float, metavar="S", help="stop after S seconds, e.g. 60"),
            arg(
                "--client-id",
                metavar="ID",
                help="a stable MQTT client id, so the broker keeps the session, e.g. erp-tail-1",
            ),
        ),
    ),
    Command(
        "receive",
        "edge.cli.transactions:cmd_receive",
        "receive goods into stock, or refill a kanban card's container",
        (
            arg(
                "part",
                nargs="?",
                metavar="PART",
                help="the part number or an alias, e.g. RM-HOUSING-CAST",
            ),
            arg(
                "qty",
                nargs="?",
                metavar="QTY",
                help="how many arrived, an exact decimal, e.g. 12 or 2.5",
            ),
            arg(
                "--reorder",
                type=int,
                metavar="ID",
                help="count against reorder ID, e.g. --reorder 3",
            ),
            arg(
                "--card",
                metavar="ID",
                help="refill kanban card ID: receive its container, no PART QTY, e.g. --card KB-7",
            ),
        ),
    ),
    Command(
        "count",
        "edge.cli.transactions:cmd_count",
        "record a cycle count (sets on hand)",
        (
            arg("part", metavar="PART", help="the part counted, e.g. RM-HOUSING-CAST"),
            arg("qty", metavar="QTY", help="how many are there, an exact decimal, e.g. 14 or 0.5"),
            arg(
                "--counted-at",
                metavar="TIME",
                help="when the count was taken (RFC 3339); scans since then are not variance, "
                "e.g. --counted-at 2026-12-02T06:30:00Z",
            ),
        ),
    ),
    Command(
        "issue",
        "edge.cli.transactions:cmd_issue",
        "issue stock to engineering, test or internal work (no shipment)",
        (
            arg("part", metavar="PART", help="the part used; a phantom is exploded, e.g. R-SCREW"),
            arg("qty", metavar="QTY", help="how many were used, above 0, e.g. 4"),
            arg("--reason", required=True, metavar="R", help="why, e.g. --reason TEST"),
            arg(
                "--station",
                metavar="S",
                help="an issue station whose issue_reasons apply, e.g. --station LAB-1",
            ),
        ),
    ),
    Command(
        "build",
        "edge.cli.transactions:cmd_build",
        "receive a built sub-assembly and backflush its BOM",
        (
            arg("part", metavar="PART", help="the sub-assembly built, e.g. SA-MOTOR-100"),
            arg("qty", metavar="QTY", help="how many were built, above 0, e.g. 4"),
        ),
    ),
    Command(
        "reorder",
        "",
        "act on a reorder",
        actions=(
            Command(
                "cancel",
                "edge.cli.transactions:cmd_reorder_cancel",
                "cancel an open reorder",
                (
                    arg(
                        "id",
                        type=int,
                        metavar="ID",
                        help="the reorder's number (edge reorders), e.g. 3",
                    ),
                ),
            ),
        ),
    ),
    Command(
        "check-config",
        "edge.cli.operations:cmd_check_config",
        "validate the config and print it (secrets masked)",
    ),
    Command(
        "backup",
        "edge.cli.lifecycle:cmd_backup",
        "consistent copy of the database (online backup)",
        (
            arg(
                "path",
                metavar="PATH",
                help="a new file for the copy, e.g. /srv/backup/edge-monday.db",
            ),
        ),
    ),
    Command(
        "migrate",
        "edge.cli.lifecycle:cmd_migrate",
        "upgrade the database's schema, keeping a .pre- backup",
    ),
    Command(
        "restore",
        "edge.cli.lifecycle:cmd_restore",
        "put a backup in place (the service stopped)",
        (arg("path", metavar="PATH", help="a file made by edge backup, e.g. /srv/edge.bak"),),
    ),
    Command(
        "init",
        "edge.cli.install:cmd_init",
        "write a starter config; show how to install the service",
        (
            arg(
                "dir",
                nargs="?",
                default=".",
                metavar="DIR",
                help="folder for edge.toml (default: .), e.g. edge init ~/edge-try",
            ),
            arg(
                "--force",
                action="store_true",
                help="overwrite an existing DIR/edge.toml, e.g. --force",
            ),
        ),
    ),
)

# The errors a handler raises for the user, as "module:class" and the exit code.
# A class is looked up only if its module is loaded: an error of a module that
# was never imported cannot have been raised, so no handler's module is
# imported here just to be able to catch its errors.
EXPECTED_ERRORS = (
    ("edge.cli.arguments:UsageError", EXIT_USAGE),
    ("edge.config.problems:ConfigError", EXIT_USAGE),
    ("edge.masterdata.csv_files:ImportRefused", EXIT_USAGE),
    ("edge.store.revisions:StorageError", EXIT_FAILURE),
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        # argparse lists the choices; a mistyped command or choice deserves the likely one.
        if action.choices is None or value in action.choices:
            return
        import difflib  # noqa: PLC0415 - with heapq, a tenth of --help's own import time

        names = [str(name) for name in action.choices]
        close = difflib.get_close_matches(str(value), names, n=1)
        if isinstance(action, argparse._SubParsersAction):
            hint = f"; did you mean {close[0]!r}?" if close else f" (one of: {', '.join(names)})"
            self.exit(EXIT_USAGE, f"{self.prog} {value}: unknown command{hint}\n")
        if close:
            raise argparse.ArgumentError(action, f"{value!r}: did you mean {close[0]!r}?")
        super()._check_value(action, value)


def _common_options() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    # SUPPRESS: given before or after the command, the option is not reset by the other parser.
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="config file, e.g. --config ./edge.toml "
        f"(default: $EDGE_CONFIG, then {DEFAULT_CONFIG})",
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log debug messages, e.g. edge -v run",
    )
    return common


def _add_commands(sub: Any, commands: Sequence[Command], common: argparse.ArgumentParser) -> None:
    for command in commands:
        child = sub.add_parser(
            command.name, help=command.text, description=command.text, parents=[common]
        )
        # Required options get a heading of their own: argparse lists them among the optional.
        required = [
            a for a in command.args if a.flags[0].startswith("-") and a.options.get("required")
        ]
        group = child.add_argument_group("required options") if required else child
        for argument in command.args:
            target = group if argument in required else child
            target.add_argument(*argument.flags, **argument.options)
        if command.actions:
            actions = child.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
            actions.required = True
            _add_commands(actions, command.actions, common)
        else:
            child.set_defaults(handler=command.handler)


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = _Parser(
        prog="edge",
        description="Backflush Edge: barcode scans to a durable stock ledger and MQTT events.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    _add_commands(sub, COMMANDS, common)
    return parser


def load_handler(target: str) -> Callable[[argparse.Namespace], int]:
    """The function named by ``"module:function"``, importing its module now."""
    module, _, function = target.partition(":")
    handler: Callable[[argparse.Namespace], int] = getattr(
        importlib.import_module(module), function
    )
    return handler


def exit_code_for(error: BaseException) -> int | None:
    """The exit code of an error meant for the user; None for anything else (a bug)."""
    for target, code in EXPECTED_ERRORS:
        module, _, name = target.partition(":")
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(error, getattr(loaded, name)):
            return code
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.verbose = getattr(args, "verbose", False)
    configure_logging(verbose=args.verbose, timestamps=args.command == "run")
    try:
        return int(load_handler(args.handler)(args))
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        code = exit_code_for(error)
        if code is None:
            raise
        print(f"edge {args.command}: {error}", file=sys.stderr)
        return code
