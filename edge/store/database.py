"""Opening the SQLite file: pragmas, write locking and migrations.

Every connection runs in WAL mode with ``synchronous=FULL`` (a committed
scan survives power loss), foreign keys on and a busy timeout. pysqlite's own
transaction handling is switched off and every transaction is started with
``BEGIN IMMEDIATE``, so the daemon and a command-line process writing the
same file queue on the write lock instead of failing mid-transaction with
"database is locked" on upgrade from a read to a write.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.pool import ConnectionPoolEntry

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
        # Readers (see queries.py) skip the write lock; WAL gives them a snapshot.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _alembic_config(connection: Connection) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest version, in one locked transaction."""
    from alembic import command  # noqa: PLC0415 - only needed when an upgrade is due

    with engine.begin() as connection:
        config = _alembic_config(connection)
        head = ScriptDirectory.from_config(config).get_current_head()
        current = MigrationContext.configure(connection).get_current_revision()
        if current == head:
            return
        command.upgrade(config, "head")


def open_database(path: Path) -> Engine:
    """Open (creating if needed) the database file and upgrade its schema."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StorageError(f"cannot create the database folder {path.parent}: {error}") from None
    engine = create_database_engine(path)
    try:
        migrate(engine)
    except Exception as error:
        engine.dispose()
        raise StorageError(f"cannot open the database {path}: {error}") from error
    return engine


def free_megabytes(path: Path) -> float:
    """Free space on the filesystem holding ``path``, in MiB."""
    return shutil.disk_usage(path.parent).free / (1024 * 1024)


def backup(engine: Engine, target: Path) -> None:
    """A consistent copy through SQLite's online backup API (WAL content included)."""
    if target.exists():
        raise StorageError(f"{target} already exists; choose a new file name")
    source: Any = engine.raw_connection()
    try:
        destination = sqlite3.connect(target)
        try:
            source.driver_connection.backup(destination)
        finally:
            destination.close()
    finally:
        source.close()
