"""Opening a database already at the head does not load alembic (daemon memory, SPEC §9)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from edge.store.database import _alembic_config, open_database
from edge.store.revisions import script_head

REPO = Path(__file__).resolve().parents[2]


def test_the_head_read_from_the_files_is_alembics(tmp_path: Path) -> None:
    engine = open_database(tmp_path / "edge.db")
    with engine.connect() as connection:
        assert (
            script_head()
            == ScriptDirectory.from_config(_alembic_config(connection)).get_current_head()
        )


def test_reopening_a_current_database_leaves_alembic_unloaded(tmp_path: Path) -> None:
    path = tmp_path / "edge.db"
    open_database(path).dispose()
    probe = (
        "import sys\nfrom pathlib import Path\nfrom edge.store.database import open_database\n"
        f"open_database(Path({str(path)!r})).dispose()\nprint('alembic' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert done.stdout.strip() == "False"


def test_a_database_one_revision_behind_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "edge.db"
    engine = open_database(path)
    with engine.begin() as connection:
        command.downgrade(_alembic_config(connection), "-1")
        behind = MigrationContext.configure(connection).get_current_revision()
    engine.dispose()
    assert behind != script_head()
    engine = open_database(path, upgrade=True)
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == script_head()
    engine.dispose()
