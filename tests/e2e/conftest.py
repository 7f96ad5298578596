"""The ``edge`` command as a user runs it: a real process, a real config file, a real database.

Every test gets its own folder under ``tmp_path`` holding an ``edge.toml`` and
the database it names. :class:`Edge` runs ``python -m edge`` there (the
interpreter running the tests, so it works whatever ``PATH`` is), with
``$EDGE_CONFIG`` pointing at that folder's config, and returns the
``CompletedProcess``. Every run also checks that nothing printed a traceback:
no command of the product ever should.

Fixtures:

* ``edge``: an empty folder with a config and no database yet;
* ``demo_edge``: a folder whose database holds the demo data of ``edge/demo/data/``
  (items, BOMs, opening stock), imported once per session with ``edge import``
  and copied for each test, so a test can change it freely;
* ``snapshot``/``Edge.snapshot``: every row of every table, for proving that a
  refused command changed nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest

from edge.demo import DEMO_DATA

REPO = Path(__file__).resolve().parents[2]
SITE = "plant-1"
NODE = "pack-edge-01"
PREFIX = f"backflush/{SITE}/{NODE}"
DB_NAME = "edge.db"
CALL_TIMEOUT_S = 120  # a ceiling for a hung process, not a speed requirement

T = TypeVar("T")

CONFIG = f"""\
[site]
id = "{SITE}"
node = "{NODE}"

[database]
path = "{DB_NAME}"

[[station]]
id = "PACK-1"
mode = "ship"

[[station]]
id = "SCRAP-1"
mode = "scrap"
scrap_reasons = ["DAMAGED", "TEST"]

[[station]]
id = "BUILD-1"
mode = "build"
"""


def run_edge(
    args: Sequence[str],
    *,
    cwd: Path,
    config: Path | None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m edge ARGS`` in ``cwd`` with ``$EDGE_CONFIG`` set to ``config``.

    ``config=None`` leaves ``$EDGE_CONFIG`` unset, as on a machine that never set it.
    """
    env = {key: value for key, value in os.environ.items() if key != "EDGE_CONFIG"}
    if config is not None:
        env["EDGE_CONFIG"] = str(config)
    env.update(extra_env or {})
    result = subprocess.run(
        [sys.executable, "-m", "edge", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=CALL_TIMEOUT_S,
        check=False,
    )
    assert "Traceback" not in result.stderr, describe(result)
    assert "Traceback" not in result.stdout, describe(result)
    return result


def run_concurrently(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run independent calls (each starting ``edge`` processes) side by side; results in order.

    Each ``edge`` process spends most of its life importing, so independent
    commands (reads of one database, or work in separate folders) overlap well.
    """
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.result() for future in futures]


def describe(result: subprocess.CompletedProcess[str]) -> str:
    """The command, exit code and output, for assertion messages."""
    command = " ".join(str(arg) for arg in result.args[3:])
    return (
        f"edge {command} -> exit {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )


def parse_exact(text: str) -> Any:
    """Parse JSON with every non-integer number as an exact Decimal."""
    return json.loads(text, parse_float=Decimal)


def parse_literals(text: str) -> Any:
    """Parse JSON keeping every number as the literal text the product wrote."""
    return json.loads(text, parse_float=str, parse_int=str)


def table_rows(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in rowid order (a table without rowid: in its key's),
    read with the standard sqlite3 module."""
    connection = sqlite3.connect(database)
    try:
        tables = connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name"
        ).fetchall()
        return {
            name: connection.execute(
                f'SELECT * FROM "{name}"'
                + ("" if sql.rstrip().upper().endswith("WITHOUT ROWID") else " ORDER BY rowid")
            ).fetchall()
            for name, sql in tables
        }
    finally:
        connection.close()


@dataclass
class Edge:
    """The ``edge`` command bound to one folder, its ``edge.toml`` and its database."""

    workdir: Path

    @property
    def config(self) -> Path:
        return self.workdir / "edge.toml"

    @property
    def database(self) -> Path:
        return self.workdir / DB_NAME

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return run_edge(args, cwd=self.workdir, config=self.config, extra_env=env)

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a command that must succeed (exit 0)."""
        result = self(*args)
        assert result.returncode == 0, describe(result)
        return result

    def json(self, *args: str) -> Any:
        """Run a ``--json`` command: exit 0 and exactly one JSON document on stdout."""
        result = self.ok(*args, "--json")
        return parse_exact(result.stdout)

    def literals(self, *args: str) -> Any:
        """Like :meth:`json`, with numbers as the literal text written."""
        return parse_literals(self.ok(*args, "--json").stdout)

    def json_many(self, *commands: Sequence[str]) -> list[Any]:
        """Several read-only ``--json`` commands at once; their documents in order."""
        return run_concurrently(
            [lambda command=command: self.json(*command) for command in commands]
        )

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.workdir / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row in the database (an empty dict when there is no database yet)."""
        if not self.database.exists():
            return {}
        return table_rows(self.database)


def make_edge(workdir: Path, config_text: str = CONFIG) -> Edge:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "edge.toml").write_text(config_text, encoding="utf-8")
    return Edge(workdir)


@dataclass(frozen=True)
class DemoCatalog:
    """A database with the demo data imported, and what each import printed."""

    folder: Path
    imports: dict[str, subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def demo_catalog(tmp_path_factory: pytest.TempPathFactory) -> DemoCatalog:
    """The README's first steps, once per session: import the demo items, BOMs and stock."""
    edge = make_edge(tmp_path_factory.mktemp("demo-catalog"))
    imports = {
        kind: edge("import", kind, str(DEMO_DATA / f"{kind}.csv"))
        for kind in ("items", "bom", "stock")
    }
    for result in imports.values():
        assert result.returncode == 0, describe(result)
    return DemoCatalog(edge.workdir, imports)


def copy_database(source: Path, target: Path) -> None:
    """Copy a database no process has open (with its -wal file, should one remain)."""
    for suffix in ("", "-wal"):
        if (source / (DB_NAME + suffix)).exists():
            shutil.copyfile(source / (DB_NAME + suffix), target / (DB_NAME + suffix))


@pytest.fixture
def edge(tmp_path: Path) -> Edge:
    """A config in tmp_path naming a database that does not exist yet."""
    return make_edge(tmp_path / "floor")


@pytest.fixture
def demo_edge(demo_catalog: DemoCatalog, tmp_path: Path) -> Edge:
    """A config in tmp_path and a private copy of the demo database."""
    floor = make_edge(tmp_path / "floor")
    copy_database(demo_catalog.folder, floor.workdir)
    return floor


@pytest.fixture
def make_floor(tmp_path: Path) -> Callable[[str, str], Edge]:
    """A factory for further folders in tmp_path, each with its own config text."""

    def make(name: str, config_text: str = CONFIG) -> Edge:
        return make_edge(tmp_path / name, config_text)

    return make
