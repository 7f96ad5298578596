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
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import Connection
from sqlalchemy.pool import ConnectionPoolEntry

from edge.store.revisions import (
    MIGRATIONS,
    StorageError,
    check_revision,
    pre_upgrade_path,
    script_head,
)

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

BUSY_TIMEOUT_MS = 10_000
PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    # 1 MiB of page cache per connection instead of SQLite's 2 MB: the daemon
    # keeps several pooled connections, and a scan's hot pages (balances, the
    # tails of the journal, ledger and outbox) are far fewer; a miss is a read
    # from the OS page cache.
    "PRAGMA cache_size=-1024",
)
READ_ONLY = "edge_read_only"  # execution option: a transaction that never writes


def driver_reason(error: BaseException) -> str:
    """What the database driver said, on one line ("database or disk is full").

    SQLAlchemy's wrapped message spans two lines (a link to its docs) and may
    name the failing statement, so it would both break a log line and differ
    between retries, logging the same outage again on every retry.
    """
    return " ".join(str(getattr(error, "orig", None) or error).split())


def driver_error(statement: str, parameters: Any, error: sqlite3.Error) -> exc.StatementError:
    """A driver error as SQLAlchemy's, like every other database error (raise it ``from``).

    Statements sent on the driver connection itself (BEGIN, the multi-row
    writes) would otherwise reach their callers as ``sqlite3`` errors, and a
    lock held elsewhere or a full disk would look like a bug.
    """
    return exc.DBAPIError.instance(statement, parameters, error, sqlite3.Error)


def create_database_engine(path: Path) -> Engine:
    """An engine for the file at ``path`` with the product's pragmas on every connection."""
    engine = create_engine(
        f"sqlite+pysqlite:///{path}",
        # A batch writes each table with statements of a few sizes (see
        # statements.many_rows): room for those in use in each connection's
        # cache, which holds each as a prepared program of some 10 kB.
        connect_args={
            "timeout": BUSY_TIMEOUT_MS / 1000,
            "check_same_thread": False,
            "cached_statements": 128,
        },
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
        # On the driver: SQLAlchemy's execution path costs more than the BEGIN.
        driver = connection.connection.driver_connection
        if driver is None:
            raise RuntimeError("the connection has no driver connection")
        if driver.in_transaction:
            return  # begun on the driver by a unit of work (unit_of_work.py)
        statement = "BEGIN" if read_only else "BEGIN IMMEDIATE"
        try:
            driver.execute(statement)
        except sqlite3.Error as error:
            # "database is locked" here is a lock held elsewhere past the busy timeout.
            raise driver_error(statement, (), error) from error

    return engine


def read_only(engine: Engine) -> Connection:
    """A connection for reading: its transactions begin without the write lock.

    Under WAL such a transaction reads one snapshot and never waits for a writer.
    """
    return engine.connect().execution_options(**{READ_ONLY: True})


def _alembic_config(connection: Connection) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig  # noqa: PLC0415 - see migrate()

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


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
        head = script_head()
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
