"""What the command line's arguments stand for, and how a bad one is answered.

The config file an invocation means (``--config``, then ``$EDGE_CONFIG``, then
the packaged default path), the service or read-only database it opens, and
the argument types (PART, QTY, TIME, ``--limit``). Bad usage raises
:class:`UsageError`; ``main`` turns it into exit code 2 with the message.

This module is imported to build the parser, so ``edge --help`` pays for what
it imports: the config, the store and the service are imported inside the
functions that open them.
"""

from __future__ import annotations

import argparse
import os
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from edge.domain.model import PartError, validate_part
from edge.domain.quantity import QuantityError, parse_quantity
from edge.domain.timestamps import TimeError, given_time

if TYPE_CHECKING:
    import sqlite3

    from edge.config import Config
    from edge.service import InventoryService

DEFAULT_CONFIG = Path("/etc/backflush-edge/edge.toml")
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments or input: exit 2 with the message."""


def config_path(args: argparse.Namespace) -> Path:
    if getattr(args, "config", None) is not None:
        return Path(args.config)
    from_env = os.environ.get("EDGE_CONFIG")
    return Path(from_env) if from_env else DEFAULT_CONFIG


def read_config(args: argparse.Namespace) -> Config:
    from edge.config import load_config  # noqa: PLC0415 - see the module docstring

    return load_config(config_path(args))


def existing_database(config: Config) -> Path:
    """The configured database file, which must exist (a read never creates one)."""
    if not config.database.path.exists():
        from edge.store.revisions import StorageError  # noqa: PLC0415 - only on this error

        raise StorageError(
            f"no database at {config.database.path} (set database.path in "
            f"{config.source}, or import items first)"
        )
    return config.database.path


def open_service(
    args: argparse.Namespace, *, must_exist: bool = False, upgrade: bool = False
) -> InventoryService:
    """The service on the config's database; an older schema only with ``upgrade``."""
    from edge.runtime.bootstrap import build_service  # noqa: PLC0415 - see the module docstring

    config = read_config(args)
    if must_exist:
        existing_database(config)
    return build_service(config, upgrade=upgrade)


def open_reader(args: argparse.Namespace) -> sqlite3.Connection:
    """The configured database opened read-only, for the commands that only look."""
    import sqlite3  # noqa: PLC0415 - see the module docstring

    from edge.store.queries import connect_read_only  # noqa: PLC0415
    from edge.store.revisions import StorageError, check_revision, stored_revisions  # noqa: PLC0415

    path = existing_database(read_config(args))
    try:
        connection = connect_read_only(path)
        stored, has_tables = stored_revisions(connection)
    except (OSError, sqlite3.Error) as error:
        raise StorageError(f"cannot read the database {path}: {error}") from None
    try:
        # An older or newer schema is refused with the command that fixes it, as
        # every command does; a read never upgrades.
        check_revision(path, stored, has_tables=has_tables, upgrade=False)
    except StorageError:
        connection.close()
        raise
    return connection


def quantity_arg(text: str) -> Decimal:
    try:
        return parse_quantity(text)
    except QuantityError:
        raise UsageError(
            f"the quantity {text!r} is not an exact decimal: digits with up to 6 decimals "
            "after a point, e.g. 12 or 0.25"
        ) from None


def part_arg(text: str) -> str:
    try:
        return validate_part(text)
    except PartError as error:
        raise UsageError(f"the {error}") from None


def build_quantity_arg(text: str) -> Decimal:
    """QTY of ``edge build``: a quantity above zero.

    Checked here so that the user hears which argument is wrong before any
    database is opened; a build of nothing or a negative build is a usage
    mistake, not a stock event.
    """
    quantity = quantity_arg(text)
    if quantity <= 0:
        raise UsageError(f"the quantity {text!r} of a build must be greater than zero")
    return quantity


def time_arg(text: str) -> datetime:
    """TIME: an RFC 3339 time with its offset from UTC (``--counted-at``, ``--since``), as UTC."""
    try:
        return given_time(text)
    except TimeError as error:
        raise UsageError(str(error)) from None


def count_arg(text: str) -> int:
    """A whole number of at least 0 (``--limit N``); argparse reports anything else."""
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number, e.g. 20") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative; give 0 or more, e.g. 20")
    return value
