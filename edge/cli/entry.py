"""The ``edge`` command's first step: refuse an older Python with one clear line.

The product needs Python 3.11 (``tomllib``, and the syntax of its modules).
Run from a checkout on an older interpreter it would otherwise die in a
traceback about ``tomllib`` before saying anything useful. This module and
the packages above it (``edge/__init__.py``, ``edge/cli/__init__.py``) must
therefore stay importable by old interpreters: no syntax or imports newer
than Python 3.7, and nothing from the rest of ``edge`` before the check.
"""

from __future__ import annotations

import sys

REQUIRED = (3, 11)
EXIT_USAGE = 2  # as edge.cli.arguments.EXIT_USAGE, which cannot be imported before the check
EXIT_BROKEN_PIPE = 141  # what a shell reports for a command ended by SIGPIPE (128 + 13)


def python_problem(version: tuple[int, ...], executable: str) -> str | None:
    """The line to print when ``version`` is too old to run the product, else ``None``."""
    if tuple(version[:2]) >= REQUIRED:
        return None
    needed = ".".join(str(part) for part in REQUIRED)
    found = ".".join(str(part) for part in version[:2])
    return f"Backflush Edge needs Python {needed} or newer; this is Python {found} ({executable})"


def main() -> int:
    """The console script: check the interpreter, then run the command line."""
    problem = python_problem((sys.version_info[0], sys.version_info[1]), sys.executable)
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_USAGE
    from edge.cli.main import main as run  # noqa: PLC0415 - only after the version check

    try:
        status = run()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`edge scans | head`): not an error worth a traceback.
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        import os  # noqa: PLC0415 - only this path needs it

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return status
