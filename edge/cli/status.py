"""``edge status``: one screen about the daemon running on the config's database.

It reads the status file the daemon rewrites every second next to its
database (edge/observe/status_file.py), so it answers with the station
display off and needs no access to the daemon's socket or the database.
Exit 1 when no daemon runs on that database (or the one that does hangs).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from edge.cli.arguments import EXIT_FAILURE, EXIT_OK, read_config
from edge.cli.render import print_json
from edge.observe.status_file import read_status


def cmd_status(args: argparse.Namespace) -> int:
    config = read_config(args)
    found = read_status(config.database.path, time.time())
    if found.status is None:
        if args.json:
            print_json({"running": False, "why": found.why_not})
        print(f"edge status: {found.why_not}", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        print_json({"running": True, **found.status})
    else:
        print(format_status(found.status), end="")
    return EXIT_OK


def format_status(status: dict[str, Any]) -> str:
    health = status["health"]
    broker = status["broker"]
    backlog = status["backlog"]
    lines = [
        f"edge {status['version']} running: pid {status['pid']}, site {status['site']} "
        f"node {status['node']}, since {status['started_at']}",
        f"database  {status['database']}: "
        + ("writable" if health["ok"] else f"NOT HEALTHY: {health['reason']}"),
        "broker    "
        + ("none (the daemon runs without MQTT)" if broker is None else broker["line"]),
        f"queue     {status['queue']} reads waiting; backlog {backlog['events_pending']} events, "
        f"{backlog['stock_pending']} stock states, {backlog['set_aside']} set aside",
        f"display   {status['display'] or 'off ([display] listen not set)'}",
        "",
        "scanners",
    ]
    lines += [
        f"  {s['scanner']:<16} {s['station']:<16} "
        + ("connected" if s["connected"] else s["state"].upper())
        + (f"  {s['detail']}" if s["detail"] else "")
        for s in status["scanners"]
    ] or ["  none configured"]
    lines += ["", "stations (last scan)"]
    for station in status["stations"]:
        last = station["last_scan"]
        shown = (
            "no scan yet" if last is None else f"{last['at']}  {last['status']}: {last['words']}"
        )
        totals = station["scans"]
        lines.append(
            f"  {station['station']:<16} {station['mode']:<8} {shown}  "
            f"({totals['accepted']} ok, {totals['rejected']} rejected, "
            f"{totals['duplicate']} double)"
        )
    lines.append(f"\nas of {status['written_at']}")
    return "\n".join(lines) + "\n"
