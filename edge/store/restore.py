"""Putting a backup back in place of the database, and the daemon's hold that forbids it.

``edge run`` holds a shared ``flock`` on ``<db>.lock`` for its lifetime;
``edge restore`` takes it exclusively without waiting, so it is refused while
a daemon runs, and a daemon starting during a restore waits for it. (An
flock on the database file itself would be taken away by the restore's
rename; the lock file stays.)

A restore never changes the backup file: it copies it beside the database,
checks and (when older) upgrades the copy, starts a new event stream in it
with a ``restored`` event as its seq 1, and renames it over the database.
The replaced database is first checkpointed into one self-contained file
(which also proves nobody else has it open) and kept as
``<db>.replaced-<UTC time>``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge.domain import events, exactjson, payloads
from edge.domain.timestamps import rfc3339
from edge.publish.topics import event_topic
from edge.store.backups import (
    copy_into,
    discarded_on_failure,
    finish_copy,
    match_owner,
    temporary_beside,
    verify_copy,
)
from edge.store.database import create_database_engine, migrate
from edge.store.revisions import StorageError, known_revisions


class DatabaseHeld(StorageError):
    """``edge run`` holds the database."""


def lock_path(database: Path) -> Path:
    return database.with_name(f"{database.name}.lock")


def _open_lock(database: Path) -> int:
    # Read-only, so a lock file root created (0644) still serves the service's user.
    path = lock_path(database)
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise StorageError(f"cannot open the lock file {path}: {error}") from None


class DatabaseHold:
    """The daemon's shared hold on its database, for as long as it runs."""

    def __init__(self, database: Path) -> None:
        self._descriptor: int | None = _open_lock(database)
        fcntl.flock(self._descriptor, fcntl.LOCK_SH)  # waits while a restore runs

    def release(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing drops the flock
            self._descriptor = None


@dataclass(frozen=True, slots=True)
class Restored:
    """What a restore did, for the command's report."""

    replaced: Path | None
    stream: str
    event: events.RestoredEvent


def _stream_of(connection: sqlite3.Connection) -> tuple[str | None, int]:
    """A database's stream and the last seq it issued in it (None: made before streams)."""
    last = connection.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()
    position = int(last[0]) if last else 0
    has_stream = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'stream'"
    ).fetchone()
    if has_stream is None:
        return None, position
    uuid_text, base = connection.execute("SELECT uuid, seq_base FROM stream").fetchone()
    return str(uuid_text), position - int(base)


def _prepare(backup: Path, partial: Path) -> tuple[str | None, int]:
    """Copy, check and upgrade the backup into ``partial``; the backup's stream and last seq."""
    try:
        source = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise StorageError(f"cannot open {backup}: {error}") from None
    try:
        copy = copy_into(source, partial)
    except sqlite3.Error as error:
        raise StorageError(f"cannot read {backup}: {error}") from None
    finally:
        source.close()
    try:
        revision = verify_copy(copy, backup)
        # Before 0005 a database had no stream; its events carried none.
        stream, last_seq = _stream_of(copy)
    finally:
        copy.close()
    chain = known_revisions()
    if chain is None or revision != chain[-1]:
        engine = create_database_engine(partial)
        try:
            migrate(engine)  # the backup file itself is untouched: no pre-upgrade copy
        finally:
            engine.dispose()
    return stream, last_seq


def _start_stream(
    partial: Path, event: events.RestoredEvent, site: str, node: str, topic_prefix: str
) -> str:
    """Give the copy a new stream whose seq 1 is the ``restored`` event; the new stream."""
    stream = str(uuid.uuid4())
    now = rfc3339(datetime.now(UTC))
    connection = sqlite3.connect(partial, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        # The new stream starts after the last outbox position; the position
        # counter goes on, so the outbox keeps one order across streams.
        connection.execute(
            "INSERT INTO counters (name, value) VALUES ('seq', 0) ON CONFLICT (name) DO NOTHING"
        )
        (position,) = connection.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()
        connection.execute(
            "UPDATE stream SET uuid = ?, seq_base = ?, started_at = ?", (stream, position, now)
        )
        connection.execute("UPDATE counters SET value = value + 1 WHERE name = 'seq'")
        boot = connection.execute("SELECT value FROM counters WHERE name = 'boot'").fetchone()
        event_id = str(uuid.uuid4())
        envelope = events.Envelope(
            event_id, now, stream=stream, seq=1, boot=int(boot[0]) if boot else 0,
            site=site, node=node,
        )  # fmt: skip
        connection.execute(
            "INSERT INTO outbox (seq, event_id, type, topic, payload, created_at, attempts) "
            "VALUES (?, ?, ?, ?, ?, ?, 0)",
            (
                position + 1,
                event_id,
                event.TYPE,
                event_topic(topic_prefix, event.TYPE),
                exactjson.dumps(payloads.render(envelope, event)),
                now,
            ),
        )
        connection.execute("COMMIT")
        connection.execute("PRAGMA journal_mode=DELETE")
    finally:
        connection.close()
    return stream


def _retire(database: Path) -> tuple[Path | None, str | None, int | None]:
    """Checkpoint the current database into one file and keep it beside; its stream, last seq."""
    if not database.exists():
        return None, None, None
    connection = sqlite3.connect(database, isolation_level=None, timeout=2)
    try:
        # Leaving WAL mode (which checkpoints everything into the file) needs
        # the only connection: it fails while another process has it open.
        try:
            (mode,) = connection.execute("PRAGMA journal_mode=DELETE").fetchone()
        except sqlite3.OperationalError:
            mode = "busy"
        if str(mode).lower() != "delete":
            raise DatabaseHeld(
                f"{database} is open in another process (an edge command?); retry when it ends"
            )
        try:
            stream, last_seq = _stream_of(connection)
        except sqlite3.Error:
            stream, last_seq = None, None  # a damaged database is replaced all the same
    finally:
        connection.close()
    kept = _keep(database)
    for leftover in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            database.with_name(database.name + leftover).unlink()
    return kept, stream, last_seq


def _keep(database: Path) -> Path:
    """Keep the database's file as ``<db>.replaced-<UTC time>`` (never over an earlier one)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(1000):
        suffix = f"-{attempt}" if attempt else ""
        kept = database.with_name(f"{database.name}.replaced-{stamp}{suffix}")
        try:
            os.link(database, kept)  # the database stays in place until the rename over it
        except FileExistsError:
            continue  # a restore earlier in the same second
        except OSError:
            if kept.exists():
                continue
            database.rename(kept)  # no hard links on this filesystem
        return kept
    raise StorageError(f"cannot find a free name for {database}.replaced-{stamp}")


def restore_database(
    backup: Path, database: Path, *, site: str, node: str, topic_prefix: str
) -> Restored:
    """Put ``backup`` in place of ``database`` (see the module's description)."""
    if not backup.is_file():
        raise StorageError(f"no backup at {backup}")
    lock = _open_lock(database)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DatabaseHeld(
                f"`edge run` holds {database}; stop the service first "
                "(systemctl stop backflush-edge)"
            ) from None
        partial = temporary_beside(database, ".restoring")
        with discarded_on_failure(partial, f"cannot restore {backup}"):
            previous_stream, previous_last = _prepare(backup, partial)
            kept, replaced_stream, replaced_last = _retire(database)
            event = events.RestoredEvent(
                previous_stream, previous_last, replaced_stream, replaced_last
            )
            stream = _start_stream(partial, event, site, node, topic_prefix)
            match_owner(partial, kept or backup)
            finish_copy(partial, database)
    finally:
        os.close(lock)
    return Restored(kept, stream, event)
