"""Which schema revision a database holds, and whether this program may open it.

Standard library only, so that the read-only commands (which open the file
with plain ``sqlite3``) check the revision as every other command does,
without loading SQLAlchemy or alembic.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from pathlib import Path

__all__ = [
    "MIGRATIONS",
    "DatabaseBusy",
    "SchemaError",
    "StorageError",
    "check_revision",
    "known_revisions",
    "pre_upgrade_path",
    "script_head",
    "stored_revisions",
]

MIGRATIONS = Path(__file__).with_name("migrations")


class StorageError(Exception):
    """The database cannot be opened or written."""


class DatabaseBusy(StorageError):
    """Another connection held the write lock for longer than the busy timeout.

    Not a failure of the storage: the same write succeeds once the lock is
    released (an import, a backup or a command-line process finishing).
    """


def is_lock_wait(error: BaseException) -> bool:
    """Whether a driver error means the lock was held elsewhere, not that writing failed.

    SQLITE_BUSY (and its extended codes) and SQLITE_LOCKED; the error may be
    wrapped by SQLAlchemy (``orig``).
    """
    orig = getattr(error, "orig", None) or error
    code = getattr(orig, "sqlite_errorcode", None)
    return (
        isinstance(orig, sqlite3.OperationalError)
        and code is not None
        and (code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED))
    )


class SchemaError(StorageError):
    """The database's schema revision is not the one this program may use as it is."""


_REVISION = re.compile(r"""^revision\s*=\s*["']([^"']+)["']\s*$""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"""^down_revision\s*=\s*(?:["']([^"']+)["']|None)\s*$""", re.MULTILINE)


@functools.cache
def _revision_chain() -> tuple[str, ...] | None:
    """The migrations' revisions, oldest first, read from the version files' text.

    None when the files do not show one plain chain (a merge, a branch, an
    unusual file): then alembic itself decides. Reading the text keeps alembic
    (some 12 MB resident) out of every command that finds the schema current.
    """
    parent_of: dict[str, str | None] = {}
    for path in (MIGRATIONS / "versions").glob("*.py"):
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
    return tuple(chain) if len(chain) == len(parent_of) else None


def known_revisions() -> list[str] | None:
    """The migrations' revisions, oldest first (None: not one plain chain, alembic decides).

    The version files are read once per process: they do not change under it.
    """
    chain = _revision_chain()
    return None if chain is None else list(chain)


def script_head() -> str | None:
    """The newest migration's revision (None: see :func:`known_revisions`)."""
    chain = known_revisions()
    return chain[-1] if chain else None


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


def stored_revisions(connection: sqlite3.Connection) -> tuple[list[str], bool]:
    """The revisions a plain ``sqlite3`` connection's database holds; whether it has tables."""
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    if "alembic_version" not in tables:
        return [], bool(tables)
    rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    return [str(row[0]) for row in rows], True
