"""The commands that only read (edge/cli/reports.py): stock, scans, events, reorders, cards,
variance; and status (edge/cli/status.py)."""

from __future__ import annotations

from edge.cli.arguments import count_arg
from edge.cli.declarations import JSON, LIMIT, Command, arg

REPORT_COMMANDS: tuple[Command, ...] = (
    Command(
        "status",
        "edge.cli.status:cmd_status",
        "show the running daemon: scanners, last scan per station, queue, backlog, broker",
        (JSON,),
    ),
    Command("stock", "edge.cli.reports:cmd_stock", "show stock of every stocked item", (JSON,)),
    Command(
        "scans",
        "edge.cli.reports:cmd_scans",
        "show the scan journal, newest first",
        (
            JSON,
            arg("--limit", type=count_arg, metavar="N", help=f"the newest N scans only; {LIMIT}"),
        ),
    ),
    Command(
        "events",
        "edge.cli.reports:cmd_events",
        "show the event outbox, oldest first",
        (
            JSON,
            arg(
                "--pending",
                action="store_true",
                help="unpublished events only, e.g. edge events --pending",
            ),
            arg("--limit", type=count_arg, metavar="N", help=f"the newest N events only; {LIMIT}"),
        ),
    ),
    Command(
        "reorders",
        "edge.cli.reports:cmd_reorders",
        "show open reorders",
        (
            JSON,
            arg("--all", action="store_true", help="closed reorders too, e.g. edge reorders --all"),
        ),
    ),
    Command(
        "cards",
        "edge.cli.reports:cmd_cards",
        "show kanban cards: full or empty, how long, which are late",
        (
            JSON,
            arg("--part", metavar="P", help="the cards of one part only, e.g. --part R-SCREW"),
        ),
    ),
    Command(
        "variance",
        "edge.cli.reports:cmd_variance",
        "show each counted part's variance against its consumption, and what it suggests",
        (
            JSON,
            arg(
                "--since",
                metavar="TIME",
                help="counts at or after TIME (RFC 3339), e.g. --since 2026-11-01T00:00:00Z",
            ),
            arg("--part", metavar="P", help="one part only, e.g. --part RM-GASKET"),
        ),
    ),
)
