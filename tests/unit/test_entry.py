"""The ``edge`` entry point refuses an old Python with one line, before importing the product.

No Python older than 3.11 exists on a development machine, so the check is
tested three ways: the function with fake version tuples; a real interpreter
process that reports an old ``sys.version_info`` before running the entry
point (the exit code, the message, and that nothing of the product or
``tomllib`` was imported); and the modules imported before the check parsed
with Python 3.7's grammar, so an old interpreter reaches the check at all.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import edge
from edge.cli.entry import python_problem

PACKAGE = Path(edge.__file__).resolve().parent
# Imported by `python -m edge` and by the console script before the check runs.
BEFORE_CHECK = ("__init__.py", "__main__.py", "cli/__init__.py", "cli/entry.py")
OLD = """\
import sys
sys.version_info = (3, 9, 2, "final", 0)
from edge.cli.entry import main
code = main()
product = sorted(m for m in sys.modules if m.startswith("edge.") and m.count(".") > 1)
print(code, "tomllib" in sys.modules, product)
"""


@pytest.mark.parametrize(
    ("version", "shown"),
    [((3, 10, 12), "3.10"), ((3, 9), "3.9"), ((3, 7, 3, "final", 0), "3.7"), ((2, 7, 18), "2.7")],
)
def test_an_older_python_is_named_with_its_path(version: tuple[int, ...], shown: str) -> None:
    assert python_problem(version, "/usr/bin/python3") == (
        f"Backflush Edge needs Python 3.11 or newer; this is Python {shown} (/usr/bin/python3)"
    )


@pytest.mark.parametrize("version", [(3, 11, 0), (3, 11), (3, 12, 1, "final", 0), (4, 0)])
def test_python_3_11_and_newer_pass(version: tuple[int, ...]) -> None:
    assert python_problem(version, "/usr/bin/python3") is None


def test_the_entry_point_stops_before_importing_the_product() -> None:
    result = subprocess.run(
        [sys.executable, "-c", OLD], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.stderr == (
        f"Backflush Edge needs Python 3.11 or newer; this is Python 3.9 ({sys.executable})\n"
    )
    # Of the product only the entry module itself was imported (and its packages).
    assert result.stdout.split(maxsplit=2) == ["2", "False", "['edge.cli.entry']\n"], result.stdout


@pytest.mark.parametrize("name", BEFORE_CHECK)
def test_modules_before_the_check_parse_as_python_3_7(name: str) -> None:
    source = (PACKAGE / name).read_text(encoding="utf-8")
    tree = ast.parse(source, filename=name, feature_version=(3, 7))
    imported = {
        alias.name.split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.Import)
        for alias in n.names
    }
    imported |= {
        (n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
    }
    # Only what every Python 3 has, and the entry module itself; edge.cli.main comes after.
    assert imported <= {"__future__", "os", "sys", "edge"}, imported


def test_a_reader_that_goes_away_ends_the_command_without_a_traceback() -> None:
    """`edge check-config | head -1`: the reader of edge's output has gone when edge writes."""
    import os
    import subprocess

    script = (
        "import sys\n"
        "from edge.cli import entry\n"
        "from edge.deploy import EXAMPLE_CONFIG\n"
        "sys.argv = ['edge', '--config', str(EXAMPLE_CONFIG), 'check-config']\n"
        "raise SystemExit(entry.main())\n"
    )
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will ever read: every write fails with EPIPE
    try:
        writer = subprocess.run(
            [sys.executable, "-c", script],
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in writer.stderr, writer.stderr
    assert writer.returncode == 141
