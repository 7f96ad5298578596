"""The commands that run and look after the node: run, devices, demo, check-config."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from edge.cli.arguments import EXIT_OK, read_config
from edge.cli.render import print_json
from edge.config import ConfigError, config_warnings, format_config
from edge.runtime.logs import set_levels as set_log_levels


def cmd_run(args: argparse.Namespace) -> int:
    from edge.runtime.daemon import Daemon  # noqa: PLC0415 - only the daemon loads paho and readers

    config = read_config(args)
    set_log_levels(logging.DEBUG if args.verbose else config.log_level, log_mqtt=args.log_mqtt)
    return Daemon(config.source).run()


def configured_stations(args: argparse.Namespace) -> list[str]:
    """The stations of the config, to propose in [[scanner]] tables; none if it does not load.

    ``edge devices`` is often run before the config is finished, so a config
    that is missing or wrong only costs the proposal, not the listing.
    """
    try:
        return [station.id for station in read_config(args).stations]
    except ConfigError:
        return []


def cmd_devices(args: argparse.Namespace) -> int:
    from hardware.bindings import devices_json, format_devices  # noqa: PLC0415
    from hardware.devices import discover  # noqa: PLC0415

    report, stations = discover(), configured_stations(args)
    if args.json:
        print_json(devices_json(report, stations))
    else:
        print(format_devices(report, stations), end="")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from edge.demo.run import run_demo  # noqa: PLC0415 - the demo's imports are for it alone

    return run_demo(Path(args.data) if args.data else None, keep=args.keep)


def cmd_check_config(args: argparse.Namespace) -> int:
    config = read_config(args)
    for warning in config_warnings(config):
        print(f"warning: {warning}", file=sys.stderr)
    print(format_config(config))
    print(f"\n{config.source}: ok", file=sys.stderr)
    return EXIT_OK
