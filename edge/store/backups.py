"""Copies of the database that are complete or absent: backups and pre-upgrade copies.

A copy is written through SQLite's online backup API into a temporary file
beside the target, checked (integrity, schema revision, tables), flushed to
disk and only then renamed onto the target, so a copy killed half way leaves
at most a stray ``.<name>.*.partial`` file and never a valid-looking but
incomplete database under the target's name (which ``edge stock`` would
accept as an empty plant). The copy holds a lock on its temporary file, so
the next copy to the same target removes a stray one that nobody holds.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from edge.store import schema
from edge.store.revisions import StorageError, known_revisions

# Tables every revision since 0001 has; at the head, all of schema.metadata.
_CORE_TABLES = frozenset({"items", "bom_lines", "scans", "transactions", "ledger", "outbox"})


def stored_revision(connection: sqlite3.Connection) -> str | None:
    """The alembic revision in a plain sqlite3 connection's database (None: no schema)."""
    exists = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    ).fetchone()
    if exists is None:
        return None
    rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    return ",".join(str(row[0]) for row in rows) or None


def verify_copy(connection: sqlite3.Connection, name: Path, expected: str | None = None) -> str:
    """Check a database copy; its revision. Raises :class:`StorageError` naming ``name``.

    ``expected`` is the revision the copy must have (that of its source);
    without it, any revision this program knows is accepted.
    """
    try:
        problems = [str(row[0]) for row in connection.execute("PRAGMA integrity_check")]
        revision = stored_revision(connection)
        tables = {
            str(row[0])
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    except sqlite3.DatabaseError as error:
        raise StorageError(f"{name} is not a readable SQLite database: {error}") from None
    if problems != ["ok"]:
        raise StorageError(f"{name} fails the integrity check: {'; '.join(problems[:3])}")
    chain = known_revisions() or []
    if revision is None:
        raise StorageError(f"{name} is not a Backflush Edge database (no schema revision)")
    if expected is not None and revision != expected:
        raise StorageError(f"{name} is at revision {revision}, its source at {expected}")
    if chain and revision not in chain:
        raise StorageError(
            f"{name} is at revision {revision}, newer than this program's {chain[-1]}: "
            "install the newer version to use it"
        )
    required = set(schema.metadata.tables) if chain and revision == chain[-1] else _CORE_TABLES
    missing = sorted(required - tables)
    if missing:
        raise StorageError(f"{name} lacks the tables {', '.join(missing)}")
    return revision


def fsync_path(path: Path) -> None:
    """Flush a file's (or a folder's) content and metadata to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def temporary_beside(target: Path, suffix: str = ".partial") -> Path:
    """A new empty file in ``target``'s folder (a rename onto ``target`` is then atomic)."""
    path, descriptor = claimed_beside(target, suffix)
    os.close(descriptor)
    return path


def claimed_beside(target: Path, suffix: str = ".partial") -> tuple[Path, int]:
    """:func:`temporary_beside`, with a descriptor that holds an exclusive ``flock`` on it.

    The lock lives as long as the descriptor, and the kernel drops it when the
    process dies (kill -9 included): a temporary file nobody holds is one a
    killed copy left behind, which :func:`remove_abandoned` may delete.
    """
    descriptor, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    return Path(name), descriptor


def remove_abandoned(target: Path, suffix: str = ".partial") -> list[Path]:
    """Delete the temporary files of copies to ``target`` that died half way; those removed.

    A file another copy still holds (its process is alive) is left alone.
    """
    removed: list[Path] = []
    for path in target.parent.glob(f".{target.name}.*{suffix}"):
        try:
            descriptor = os.open(path, os.O_RDONLY)
        except OSError:
            continue  # gone meanwhile, or not ours to read
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            path.unlink()
            removed.append(path)
        except OSError:
            continue  # held by a copy in progress (BlockingIOError), or cannot be removed
        finally:
            os.close(descriptor)
    return removed


def copy_into(source: sqlite3.Connection, destination: Path) -> sqlite3.Connection:
    """Copy ``source`` into the file ``destination`` with the online backup API.

    One step (``pages=-1``): the copy reads one snapshot under WAL while
    writers go on. Copying in several steps would restart the copy whenever
    the daemon commits between two of them, and it commits every scan. The copy
    is switched to rollback-journal mode so it is one self-contained file.
    Returns the open connection to the copy.
    """
    copy = sqlite3.connect(destination, isolation_level=None)
    try:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")
    except BaseException:
        copy.close()
        raise
    return copy


def match_owner(path: Path, reference: Path) -> None:
    """Give ``path`` the mode (and, as root, the owner) of ``reference``.

    mkstemp makes the file 0600 and owned by whoever runs the command; a
    database restored by root must stay writable by the service's user, and a
    backup readable by whoever could read the database.
    """
    try:
        status = reference.stat()
    except OSError:
        return
    path.chmod(status.st_mode & 0o777)
    if os.geteuid() == 0:
        os.chown(path, status.st_uid, status.st_gid)


@contextlib.contextmanager
def discarded_on_failure(partial: Path, failure: str) -> Iterator[None]:
    """Remove ``partial`` when the block fails; a database or file error becomes a StorageError.

    ``failure`` starts the message ("cannot restore /srv/edge.bak").
    """
    try:
        yield
    except BaseException as error:
        with contextlib.suppress(OSError):
            partial.unlink()
        if isinstance(error, sqlite3.Error | OSError):
            raise StorageError(f"{failure}: {error}") from error
        raise


def finish_copy(partial: Path, target: Path) -> None:
    """Flush the finished copy, rename it onto ``target`` and flush the folder entry."""
    fsync_path(partial)
    partial.replace(target)
    fsync_path(target.parent)


def copy_database(engine: Engine, target: Path, *, replace: bool = False) -> str:
    """A verified copy of the engine's database at ``target``; the copy's revision.

    An existing ``target`` is an error unless ``replace`` (the pre-upgrade
    copy, which must show the database as it is just before this upgrade).
    """
    if target.exists() and not replace:
        raise StorageError(f"{target} already exists; choose a new file name")
    remove_abandoned(target)
    try:
        partial, claim = claimed_beside(target)
    except OSError as error:
        raise StorageError(f"cannot write beside {target}: {error}") from None
    try:
        with discarded_on_failure(partial, f"cannot copy the database to {target}"):
            raw: Any = engine.raw_connection()
            try:
                source: sqlite3.Connection = raw.driver_connection
                expected = stored_revision(source)
                copy = copy_into(source, partial)
            finally:
                raw.close()
            try:
                revision = verify_copy(copy, target, expected)
            finally:
                copy.close()
            match_owner(partial, Path(str(engine.url.database)))
            finish_copy(partial, target)
    finally:
        os.close(claim)
    return revision
