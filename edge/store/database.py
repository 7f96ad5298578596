"""Opening the SQLite file: pragmas, write locking and migrations.

Every connection runs in WAL mode with ``synchronous=FULL`` (a committed
scan survives power loss), foreign keys on and a busy timeout. pysqlite's own
transaction handling is switched off and every transaction is started with
``BEGIN IMMEDIATE``, so the daemon and a command-line process writing the
same file queue on the write lock instead of failing mid-transaction with
"database is locked" on upgrade from a read to a write.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.pool import ConnectionPoolEntry

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

BUSY_TIMEOUT_MS = 10_000
PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
)
READ_ONLY = "edge_read_only"  # execution option: a transaction that never writes
_MIGRATIONS = Path(__file__).with_name("migrations")


class StorageError(Exception):
    """The database cannot be opened or written."""


class SchemaError(StorageError):
    """The database's schema revision is not the one this program may use as it is."""


def driver_reason(error: BaseException) -> str:
    """What the database driver said, on one line ("database or disk is full").

    SQLAlchemy's wrapped message spans two lines (a link to its docs) and may
    name the failing statement, so it would both break a log line and differ
    between retries, logging the same outage again on every retry.
    """
    return " ".join(str(getattr(error, "orig", None) or error).split())


def create_database_engine(path: Path) -> Engine:
    """An engine for the file at ``path`` with the product's pragmas on every connection."""
    engine = create_engine(
        f"sqlite+pysqlite:///{path}",
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the driver; "begin" below issues it.
        dbapi_connection.isolation_level = None
        for pragma in PRAGMAS:
            dbapi_connection.execute(pragma)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Readers (read_only below) skip the write lock; WAL gives them a snapshot.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def read_only(engine: Engine) -> Connection:
    """A connection for reading: its transactions begin without the write lock.

    Under WAL such a transaction reads one snapshot and never waits for a writer.
    """
    return engine.connect().execution_options(**{READ_ONLY: True})


def _alembic_config(connection: Connection) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig  # noqa: PLC0415 - see migrate()

    config = AlembicConfig()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


_REVISION = re.compile(r"""^revision\s*=\s*["']([^"']+)["']\s*$""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"""^down_revision\s*=\s*(?:["']([^"']+)["']|None)\s*$""", re.MULTILINE)


def known_revisions() -> list[str] | None:
    """The migrations' revisions, oldest first, read from the version files' text.

    None when the files do not show one plain chain (a merge, a branch, an
    unusual file): then alembic itself decides. Reading the text keeps alembic
    (some 12 MB resident) out of every command that finds the schema current.
    """
    parent_of: dict[str, str | None] = {}
    for path in (_MIGRATIONS / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revision = _REVISION.search(text)
        if revision is None:
            continue  # __init__.py
        down = _DOWN_REVISION.search(text)
        if down is None:
            return None
        parent_of[revision.group(1)] = down.group(1)
    child_of: dict[str | None, str] = {parent: child for child, parent in parent_of.items()}
    if len(child_of) != len(parent_of):
        return None  # two revisions share a parent: a branch
    chain: list[str] = []
    current = child_of.get(None)
    while current is not None:
        chain.append(current)
        current = child_of.get(current)
    return chain if len(chain) == len(parent_of) else None


def _script_head() -> str | None:
    """The newest migration's revision (None: see :func:`known_revisions`)."""
    chain = known_revisions()
    return chain[-1] if chain else None


def _stored_revisions(connection: Connection) -> list[str]:
    exists = connection.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    ).first()
    if exists is None:
        return []
    rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    return [str(row[0]) for row in rows]


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest version, in one locked transaction.

    A database already at the head is recognised without importing alembic
    (some 12 MB of resident memory in the daemon, which must stay under 80 MB
    with 20 scanners); alembic is loaded only when an upgrade may be due.
    """
    with engine.begin() as connection:
        head = _script_head()
        if head is not None and _stored_revisions(connection) == [head]:
            return
        # Only needed when an upgrade may be due.
        from alembic import command  # noqa: PLC0415
        from alembic.runtime.migration import MigrationContext  # noqa: PLC0415
        from alembic.script import ScriptDirectory  # noqa: PLC0415

        config = _alembic_config(connection)
        head = ScriptDirectory.from_config(config).get_current_head()
        current = MigrationContext.configure(connection).get_current_revision()
        if current == head:
            return
        command.upgrade(config, "head")


def pre_upgrade_path(path: Path, revision: str) -> Path:
    """Where an upgrade from ``revision`` keeps the database as it was: ``<db>.pre-<revision>``."""
    return path.with_name(f"{path.name}.pre-{revision}")


def check_revision(path: Path, stored: list[str], *, has_tables: bool, upgrade: bool) -> bool:
    """Whether the database at ``path`` (at revision ``stored``) needs migrating now.

    Raises :class:`SchemaError` when it may not be opened: newer than this
    program, not a Backflush Edge database, or older and ``upgrade`` is false.
    A new (empty) file is created at the head by any command.
    """
    chain = known_revisions()
    if chain is None:
        return True  # an unusual set of version files: alembic decides in migrate()
    head = chain[-1]
    if stored == [head]:
        return False
    if not stored:
        if has_tables:
            raise SchemaError(f"{path} is not a Backflush Edge database (no schema revision)")
        return True
    if len(stored) != 1 or stored[0] not in chain:
        revision = ", ".join(stored)
        raise SchemaError(
            f"the database {path} is at revision {revision}, newer than this program's {head}: "
            f"install the newer version, or restore the pre-upgrade backup "
            f"{pre_upgrade_path(path, head)} with `edge restore`"
        )
    if not upgrade:
        raise SchemaError(
            f"the database {path} is at revision {stored[0]}, this program needs {head}: "
            "run `edge migrate` (or start `edge run`)"
        )
    return True


def read_revision(engine: Engine) -> tuple[list[str], bool]:
    """The database's stored revision(s) and whether it has any table, without writing."""
    with read_only(engine) as connection, connection.begin():
        tables = connection.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar_one()
        return _stored_revisions(connection), bool(tables)


def open_database(path: Path, *, upgrade: bool = False) -> Engine:
    """Open the database file, creating it at the newest schema when it is new.

    Only ``upgrade=True`` (``edge run``, ``edge migrate``) changes the schema of
    an existing older database, after keeping it as ``<db>.pre-<revision>``
    through the online backup API; every other caller gets a
    :class:`SchemaError` naming the command that upgrades it, and leaves the
    file as it was. A database newer than the program is refused either way.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StorageError(f"cannot create the database folder {path.parent}: {error}") from None
    engine = create_database_engine(path)
    try:
        stored, has_tables = read_revision(engine)
        if check_revision(path, stored, has_tables=has_tables, upgrade=upgrade):
            if stored:
                from edge.store.backups import copy_database  # noqa: PLC0415 - upgrades only

                copy_database(engine, pre_upgrade_path(path, stored[0]), replace=True)
            migrate(engine)
    except StorageError:
        engine.dispose()
        raise
    except Exception as error:
        engine.dispose()
        raise StorageError(f"cannot open the database {path}: {error}") from error
    return engine


def free_megabytes(path: Path) -> float:
    """Free space on the filesystem holding ``path``, in MiB."""
    return shutil.disk_usage(path.parent).free / (1024 * 1024)
