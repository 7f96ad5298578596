"""``edge init [DIR]``: a starter config, and the way from a wheel to a running service.

The starter config is the documented example shipped in the package
(``edge/deploy/edge.toml``) with one change: the database lives under DIR, so
a first try never needs root or ``/var/lib``. The one exception is the
service's own config folder, ``/etc/backflush-edge``: the unit makes ``/etc``
read-only (``ProtectSystem=strict``) and gives the daemon
``/var/lib/backflush-edge`` (``StateDirectory=``), so a config written there
keeps the example's database path, which is that folder.

Nothing is installed system-wide: the command prints where the packaged unit
and udev rules are and the commands that install them, for the reader to run
(as root) after looking at them.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

from edge.cli.arguments import DEFAULT_CONFIG, EXIT_OK, UsageError
from edge.config import DEFAULT_DATABASE_PATH
from edge.deploy import DEPLOY_DIR, EXAMPLE_CONFIG, SERVICE_UNIT, UDEV_RULES

SERVICE_USER = "backflush-edge"
# The example's database line, exactly as the example writes it.
EXAMPLE_DATABASE_LINE = f"path = {json.dumps(str(DEFAULT_DATABASE_PATH))}"


def starter_config(example: str, database: Path) -> str:
    """The example config's text with its database path replaced by ``database``."""
    lines = example.splitlines(keepends=True)
    found = [i for i, line in enumerate(lines) if line.rstrip("\n") == EXAMPLE_DATABASE_LINE]
    if len(found) != 1:
        # The example and this command are shipped together; a mismatch is a packaging bug.
        raise RuntimeError(f"{EXAMPLE_CONFIG}: expected one line {EXAMPLE_DATABASE_LINE!r}")
    # A JSON string of a str is a valid TOML basic string (same escapes, \uXXXX included).
    lines[found[0]] = f"path = {json.dumps(str(database))}\n"
    return "".join(lines)


def database_for(folder: Path) -> Path:
    """Where the starter config in ``folder`` keeps its database (see the module docstring)."""
    if folder == DEFAULT_CONFIG.parent:
        return DEFAULT_DATABASE_PATH
    return folder / DEFAULT_DATABASE_PATH.name


def write_config(target: Path, text: str, *, force: bool) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if not force:
        try:
            # "x": refuse atomically, even if another process creates the file meanwhile.
            with target.open("x", encoding="utf-8") as handle:
                handle.write(text)
        except FileExistsError:
            raise UsageError(f"{target} exists; pass --force to overwrite it") from None
        return
    partial = target.with_name(f".{target.name}.tmp")
    partial.write_text(text, encoding="utf-8")
    partial.replace(target)


def unit_program() -> str:
    """The program the packaged unit starts (first word of its ``ExecStart=``)."""
    for line in SERVICE_UNIT.read_text(encoding="utf-8").splitlines():
        if line.startswith("ExecStart="):
            return line.removeprefix("ExecStart=").split()[0].lstrip("-@:+!")
    raise RuntimeError(f"{SERVICE_UNIT}: no ExecStart= line")


def install_commands() -> Iterator[str]:
    """The shell commands, in order, that install the service from this package's files."""
    quote = shlex.quote
    yield (
        f"id -u {SERVICE_USER} >/dev/null 2>&1 || sudo useradd --system --user-group "
        f"--home-dir /var/lib/{SERVICE_USER} --no-create-home --shell /usr/sbin/nologin "
        f"{SERVICE_USER}"
    )
    yield f"sudo {quote(str(unit_program()))} init {quote(str(DEFAULT_CONFIG.parent))}"
    yield f"sudo cp {quote(str(SERVICE_UNIT))} /etc/systemd/system/"
    yield f"sudo cp {quote(str(UDEV_RULES))} /etc/udev/rules.d/"
    yield "sudo udevadm control --reload && sudo udevadm trigger"
    yield "sudo systemctl daemon-reload"
    yield f"sudo systemctl enable --now {SERVICE_UNIT.stem}"


def cmd_init(args: argparse.Namespace) -> int:
    folder = Path(args.dir).expanduser().resolve()
    target = folder / DEFAULT_CONFIG.name
    database = database_for(folder)
    example = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    write_config(target, starter_config(example, database), force=args.force)

    print(f"wrote {target}: the documented example, with its database at {database}")
    print("Edit its [site], [[station]] and [[scanner]] tables (`edge devices` lists scanners),")
    print(f"then check it:  edge check-config --config {shlex.quote(str(target))}")
    print(f"\nShipped in this package ({DEPLOY_DIR}):")
    print(f"  example config  {EXAMPLE_CONFIG}")
    print(f"  systemd unit    {SERVICE_UNIT}")
    print(f"  udev rules      {UDEV_RULES}")
    print("\nTo run the daemon as a service (README: Install as a service):")
    for command in install_commands():
        print(f"  {command}")
    here = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    program = Path(unit_program())
    if here is not None and here.name == program.name and here != program.resolve():
        print(
            f"\nThe unit starts {program}, but this edge is {here}: install into "
            f"{program.parent.parent} or change ExecStart= in the copied unit."
        )
    return EXIT_OK
