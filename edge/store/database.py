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
from typing import TYPE_CHECKING, Any

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
    # 1 MiB of page cache per connection instead of SQLite's 2 MB: the daemon
    # keeps several pooled connections, and a scan's hot pages (balances, the
    # tails of the journal, ledger and outbox) are far fewer; a miss is a read
    # from the OS page cache.
    "PRAGMA cache_size=-1024",
)
READ_ONLY = "edge_read_only"  # execution option: a transaction that never writes
_MIGRATIONS = Path(__file__).with_name("migrations")


class StorageError(Exception):
    """The database cannot be opened or written."""


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


def _script_head() -> str | None:
    """The newest migration's revision, read from the version files' text.

    None when the files do not show one plain chain (a merge, a branch, an
    unusual file): then alembic itself decides.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (_MIGRATIONS / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revision = _REVISION.search(text)
        if revision is None:
            continue  # __init__.py
        down = _DOWN_REVISION.search(text)
        if down is None:
            return None
        revisions.add(revision.group(1))
        if down.group(1) is not None:
            parents.add(down.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


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
