"""The commands that look after the database's life: migrate, backup and restore."""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.cli.arguments import EXIT_OK, open_service, read_config
from edge.store.database import create_database_engine, read_revision
from edge.store.revisions import known_revisions, pre_upgrade_path


def cmd_migrate(args: argparse.Namespace) -> int:
    """Upgrade the database's schema to this program's, keeping the old one as ``.pre-``."""
    config = read_config(args)
    path = config.database.path
    if not path.exists():
        open_service(args, upgrade=True).engine.dispose()
        print(f"created {path} at revision {(known_revisions() or ['the newest'])[-1]}")
        return EXIT_OK
    probe = create_database_engine(path)
    try:
        before = read_revision(probe)[0]
    finally:
        probe.dispose()
    open_service(args, must_exist=True, upgrade=True).engine.dispose()
    head = (known_revisions() or ["the newest revision"])[-1]
    if before == [head]:
        print(f"{path} is already at revision {head}")
    else:
        kept = pre_upgrade_path(path, before[0]) if before else None
        print(f"upgraded {path} from revision {', '.join(before)} to {head}; before: {kept}")
    return EXIT_OK


def cmd_backup(args: argparse.Namespace) -> int:
    """A verified copy through the online backup API, renamed into place when complete."""
    from edge.store.backups import copy_database  # noqa: PLC0415

    service = open_service(args, must_exist=True)
    target = Path(args.path)
    revision = copy_database(service.engine, target)
    print(f"backed up {service.engine.url.database} to {target} (revision {revision})")
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    """Put a backup in place of the database; refused while ``edge run`` holds it."""
    from edge.store.restore import restore_database  # noqa: PLC0415

    config = read_config(args)
    done = restore_database(
        Path(args.path),
        config.database.path,
        site=config.site.id,
        node=config.site.node,
        topic_prefix=config.topic_prefix,
    )
    event = done.event
    print(f"restored {args.path} to {config.database.path}")
    if done.replaced is not None:
        print(f"the replaced database is kept at {done.replaced}")
    print(
        f"new event stream {done.stream}; the backup held seq {event.previous_last_seq} "
        f"of stream {event.previous_stream or '(none: made before streams)'}"
    )
    return EXIT_OK
