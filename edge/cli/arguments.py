"""What the command line's arguments stand for, and how a bad one is answered.

The config file an invocation means (``--config``, then ``$EDGE_CONFIG``, then
the packaged default path), the service it opens, and the PART and QTY
argument types. Bad usage raises :class:`UsageError`; ``main`` turns it into
exit code 2 with the message.
"""

from __future__ import annotations

import argparse
import os
from decimal import Decimal
from pathlib import Path

from edge.config import Config, load_config
from edge.domain.model import PartError, validate_part
from edge.domain.quantity import QuantityError, parse_quantity
from edge.runtime.bootstrap import build_service
from edge.service import InventoryService
from edge.store.database import StorageError

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
    return load_config(config_path(args))


def open_service(
    args: argparse.Namespace, *, must_exist: bool = False, upgrade: bool = False
) -> InventoryService:
    """The service on the config's database; an older schema only with ``upgrade``."""
    config = read_config(args)
    if must_exist and not config.database.path.exists():
        raise StorageError(
            f"no database at {config.database.path} (set database.path in "
            f"{config.source}, or import items first)"
        )
    return build_service(config, upgrade=upgrade)


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


def build_quantity_arg(text: str) -> Decimal:
    """QTY of ``edge build``: a quantity above zero.

    Checked here so that the user hears which argument is wrong before any
    database is opened; a build of nothing or a negative build is a usage
    mistake, not a stock event.
    """
    quantity = quantity_arg(text)
    if quantity <= 0:
        raise UsageError("QTY: a build quantity must be greater than zero")
    return quantity
