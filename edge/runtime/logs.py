"""Logging for every ``edge`` command: where lines go, how they look, who may speak.

* Under systemd, stderr is a journal stream: each line starts with its syslog
  priority (``<6>`` for INFO, ...) so ``journalctl -p warning`` filters, and
  carries no timestamp (journald stamps every line itself). Elsewhere lines
  carry time (``edge run`` only), level and logger.
* paho's packet traces (``Sending PUBLISH``, ``Received PUBACK``, ...) are
  most of a DEBUG log: they show only with ``edge run --log-mqtt``; ``-v``
  alone gives the product's own DEBUG lines.
* Alembic announces its SQLite settings at INFO on every migration; those
  lines are kept for ``-v``.

Only the standard library is imported here: every command, even
``edge --help``, passes through this module.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

# Under the relay's logger name, so a line says whose connection it is about.
# edge.publish.connection hands this name to paho; declared here so that setting
# its level does not import paho.
PAHO_LOGGER = "edge.publish.relay.paho"
ALEMBIC_LOGGER = "alembic"

# syslog priorities (sd-daemon(3)): debug 7, info 6, notice 5, warning 4, err 3, crit 2.
_PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))
_DEBUG_PRIORITY = 7

CODE_CHARS = 80  # a logged code is cut here; a label never needs more to be recognised


def priority(levelno: int) -> int:
    """The syslog priority of a logging level (levels between take the lower one's)."""
    for level, value in _PRIORITIES:
        if levelno >= level:
            return value
    return _DEBUG_PRIORITY


def journal_stream(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default stderr) is the journal stream systemd connected.

    systemd.exec(5): JOURNAL_STREAM holds ``device:inode`` of the stream it
    connected to the journal. The variable is inherited by children whose
    stderr may go elsewhere (a shell started from a unit, a redirect), so
    the stream itself is compared, as systemd recommends.
    """
    value = os.environ.get("JOURNAL_STREAM")
    if not value:
        return False
    stream = stream if stream is not None else sys.stderr
    try:
        device, inode = (int(part) for part in value.split(":", 1))
        stat = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (stat.st_dev, stat.st_ino) == (device, inode)


class JournalFormatter(logging.Formatter):
    """``<N>logger: message``; every line of a traceback gets the prefix too.

    journald splits the stream at newlines and gives a line without a prefix
    the default priority (info): a traceback of an ERROR would otherwise be
    found by ``-p err`` only by its first line.
    """

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        prefix = f"<{priority(record.levelno)}>"
        if "\n" not in text:
            return prefix + text
        return "\n".join(prefix + line for line in text.split("\n"))


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is when a record comes (as logging's last resort).

    Holding the stream of the moment would keep writing to a replaced one
    (a test's capture, closed after it) long after ``configure`` ran.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


_installed: list[logging.Handler] = []  # the handler configure() put on the root logger


def configure(*, verbose: bool, timestamps: bool, stream: TextIO | None = None) -> None:
    """Set up the root logger for a command (stderr; WARNING, or DEBUG with ``-v``).

    ``timestamps`` is for the daemon, whose log is read later; a one-shot
    command's lines are read as they appear. Under the journal neither
    carries one. Called again, it replaces its own handler and leaves any
    other (a test's capture) alone.
    """
    # The writer logs every scan: a record must be cheap. No format here shows the
    # caller's file and line or the process, and finding the caller walks the stack
    # (half of a record's cost), so neither is collected (the logging docs'
    # "Optimization" section names these switches).
    logging._srcfile = None
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    if journal_stream(stream if stream is not None else sys.stderr):
        handler.setFormatter(JournalFormatter())
    elif timestamps:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    while _installed:
        root.removeHandler(_installed.pop())
    root.addHandler(handler)
    _installed.append(handler)
    set_levels(logging.DEBUG if verbose else logging.WARNING, log_mqtt=False)


def set_levels(level: int | str, *, log_mqtt: bool) -> None:
    """The root level, and the two chatty libraries' levels under it.

    A logger with its own level passes records to the root's handlers
    whatever the root's level, so the libraries are never set below it.
    """
    root = logging.getLogger()
    root.setLevel(level)
    effective = root.getEffectiveLevel()
    paho = logging.getLogger(PAHO_LOGGER)
    paho.setLevel(logging.DEBUG if log_mqtt else max(effective, logging.INFO))
    alembic = logging.getLogger(ALEMBIC_LOGGER)
    alembic.setLevel(effective if effective <= logging.DEBUG else max(effective, logging.WARNING))


class LoggedCode:
    """A scanned code as a log line shows it, escaped only if the line is written.

    Non-printable characters appear as ``repr`` shows them (``\\x07``,
    ``\\u200b``), bytes that are not UTF-8 as ``\\xNN``; the code is cut at
    :data:`CODE_CHARS` characters with ``…(+N)`` naming how many were left out.
    """

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __str__(self) -> str:
        data = self.data
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return _cut(repr(data)[2:-1], [repr(data[i : i + 1])[2:-1] for i in range(len(data))])
        escaped = repr(text)[1:-1]
        if len(escaped) <= CODE_CHARS:
            return escaped
        return _cut(escaped, [repr(char)[1:-1] for char in text])

    def __repr__(self) -> str:
        return f"LoggedCode({self.data!r})"


def _cut(escaped: str, pieces: list[str]) -> str:
    """``escaped`` (the pieces joined) cut at :data:`CODE_CHARS` without splitting an escape."""
    if len(escaped) <= CODE_CHARS:
        return escaped
    kept: list[str] = []
    length = 0
    for piece in pieces:
        if length + len(piece) > CODE_CHARS:
            break
        kept.append(piece)
        length += len(piece)
    return f"{''.join(kept)}…(+{len(pieces) - len(kept)})"
