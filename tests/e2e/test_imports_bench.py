"""``bench/imports.py --quick`` runs end to end and prints its table of bars.

It imports through the apply path, then runs ``edge import`` beside a real
``edge run`` on a pty with a real mosquitto while it scans. The test checks
that every bar is reported with a median and that no scan was lost, refused
or unanswered; the speed bars are the bench's business, on a quiet machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.broker import mosquitto_binary
from tests.e2e.test_benches import bar_rows, run_bench

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed"),
]


def test_imports_quick_prints_its_bars(tmp_path: Path) -> None:
    output = run_bench("imports.py", tmp_path)

    rows = bar_rows(output, "Import bars")
    assert set(rows) == {
        "items 2000 rows", "bom 2000 rows", "stock 2000 rows", "scan p99 during imports",
        "longest write lock of an import", "scans lost, refused or unanswered",
    }  # fmt: skip
    for goal, median, _spread, _met in rows.values():
        assert goal
        assert median not in ("-", "not reported by this build")
    assert rows["scans lost, refused or unanswered"][1:] == ["0", "0 .. 0", "yes"]
    assert "problem:" not in output
