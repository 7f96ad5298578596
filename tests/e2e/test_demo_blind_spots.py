"""``edge demo`` as a user runs it: its shift shows backflush's blind spots made visible.

One real process, no scanner and no broker: the issue refused without its
reason and then posted, the kanban card whose container was used up with
fewer parts transacted (reconciled and adjusted), its refill at the dock,
and three counts of the seal cord whose BOM says 0.5 m a fan where the line
uses 0.55, read back by ``edge variance`` as a BOM suspect. A ``--data``
folder without cards.csv (or without the fan's parts) still runs.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import DEMO_DATA, describe, run_edge

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="the demo's virtual scanners are ptys"
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    folder = tmp_path_factory.mktemp("demo")
    result = run_edge(["demo"], cwd=folder, config=None, extra_env={"TMPDIR": str(folder)})
    assert result.returncode == 0, describe(result)
    assert list(folder.iterdir()) == []  # its temporary database is removed
    return result


def rows_of(output: str, first: str) -> list[list[str]]:
    """The rows of a table printed by the demo whose first cell is ``first``, split on runs of
    two or more spaces (cells hold single spaces)."""
    return [
        re.split(r" {2,}", line.strip())
        for line in output.splitlines()
        if line.split(" ", 1)[0] == first
    ]


def section(output: str, heading: str) -> str:
    """The text under the demo's ``== heading ... ==`` line, up to the next heading."""
    start = output.index(f"== {heading}")
    end = output.find("\n== ", start + 1)
    return output[start : end if end != -1 else len(output)]


def test_the_demo_imports_the_kanban_cards_with_the_rest(demo: subprocess.CompletedProcess[str]):
    imports = section(demo.stdout, "Importing demo data")
    assert "items.csv: 17 items: 17 added, 0 updated" in imports
    assert "bom.csv:   19 BOM lines for 5 parents" in imports
    assert "stock.csv: 13 opening balances" in imports
    assert "cards.csv: 2 kanban cards: 2 added, 0 updated" in imports


def test_an_issue_without_its_reason_is_refused_then_posted_with_it(
    demo: subprocess.CompletedProcess[str],
):
    lab = rows_of(section(demo.stdout, "A shift"), "LAB-1")
    assert [row[:4] for row in lab] == [
        ["LAB-1", "RM-BEARING", "rejected: reason-required", "bad beep"],
        ["LAB-1", "RSN:TEST", "accepted", "good beep"],
        ["LAB-1", "RM-BEARING", "accepted; issue 1 x RM-BEARING, 1 line, reason TEST", "good beep"],
    ]
    events = section(demo.stdout, "Events waiting")
    assert re.search(r"scan-rejected\s+reason-required: RM-BEARING\n", events)
    assert re.search(r"issue\s+1 x RM-BEARING, 1 line, reason TEST\n", events)


def test_an_emptied_card_reconciles_its_container_and_the_dock_refills_it(
    demo: subprocess.CompletedProcess[str],
):
    shift = section(demo.stdout, "A shift")
    # 23 fans backflushed 92 clips of 200; one container of 100 was used: 8 went untransacted,
    # and with kanban_reconcile = "adjust" the -8 is posted: 100 on hand, then the refill.
    cards = [row for row in rows_of(shift, "PACK-1") + rows_of(shift, "DOCK-1")
             if row[1] == "KB-CLIP-A"]  # fmt: skip
    assert [row[:4] for row in cards] == [
        [
            "PACK-1",
            "KB-CLIP-A",
            "accepted; kanban-empty card KB-CLIP-A of RM-CLIP empty, adjusted -8, on hand 100",
            "good beep",
        ],
        [
            "DOCK-1",
            "KB-CLIP-A",
            "accepted; receipt RM-CLIP received 100 (card KB-CLIP-A), on hand 200",
            "good beep",
        ],
    ]
    events = section(demo.stdout, "Events waiting")
    assert re.search(r"kanban-empty\s+card KB-CLIP-A of RM-CLIP empty, adjusted -8\n", events)
    # Both cards full at the end; 20 more fans used 80 of the refilled 200.
    assert [row[:6] for row in rows_of(section(demo.stdout, "Kanban cards"), "KB-CLIP-A")] == [
        ["KB-CLIP-A", "RM-CLIP", "line 2 rack 1", "100", "EA", "full"]
    ]
    (clip,) = rows_of(section(demo.stdout, "Stock"), "RM-CLIP")
    assert clip[:6] == ["RM-CLIP", "120", "0", "120", "EA", "ok"]
    assert clip[-2:] == ["2/0", "Spring clip"]  # full/empty cards, then the description


def test_three_counts_of_the_seal_cord_name_its_bom_a_suspect_with_the_quantity_implied(
    demo: subprocess.CompletedProcess[str],
):
    # Each count finds 10 % of the use since the previous count missing: 11.5 m for 23 fans,
    # then 5 m for each 10.
    counts = rows_of(section(demo.stdout, "A shift"), "(count)")
    assert [row[:3] for row in counts] == [
        ["(count)", "RM-SEAL-CORD 27.35", "book 28.5, variance -1.15, -10 % of 11.5 used"],
        ["(count)", "RM-SEAL-CORD 21.85", "book 22.35, variance -0.5, -10 % of 5 used"],
        ["(count)", "RM-SEAL-CORD 16.35", "book 16.85, variance -0.5, -10 % of 5 used"],
    ]
    variance = section(demo.stdout, "Counts against consumption")
    (cord,) = rows_of(variance, "RM-SEAL-CORD")
    assert cord[:2] == ["RM-SEAL-CORD", "3"]
    assert cord[3:] == ["-0.5", "-10", "5", "M", "bom-suspect"]
    assert (
        "  RM-SEAL-CORD in FG-FAN-10: BOM 0.5, counts imply 0.55 M per FG-FAN-10 "
        "(the last 3 counts)"
    ) in variance
    # Each count beyond the 5 % tolerance also sent a variance event.
    events = section(demo.stdout, "Events waiting")
    told = re.findall(r"variance\s+RM-SEAL-CORD variance (-[\d.]+) \(-10 % of use\)", events)
    assert told == ["-1.15", "-0.5", "-0.5"]
    (stock,) = rows_of(section(demo.stdout, "Stock"), "RM-SEAL-CORD")
    assert stock[:7] == ["RM-SEAL-CORD", "16.35", "0", "16.35", "M", "ok", cord[2]]
    assert stock[7] == "0"  # nothing used since the last count


def test_a_data_folder_without_cards_or_fans_still_runs_and_tells_what_it_lacks(
    tmp_path: Path,
):
    data = tmp_path / "pumps"
    data.mkdir()
    fan_parts = ("FG-FAN-10", "RM-SEAL-CORD", "RM-CLIP")
    for name in ("items.csv", "bom.csv", "stock.csv"):
        lines = (DEMO_DATA / name).read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if line.split(",", 1)[0] not in fan_parts]
        (data / name).write_text("\n".join(kept) + "\n", encoding="utf-8")
    result = run_edge(
        ["demo", "--data", str(data)], cwd=tmp_path, config=None,
        extra_env={"TMPDIR": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 0, describe(result)
    assert "cards.csv" not in result.stdout
    assert "stock.csv: 11 opening balances" in result.stdout
    shift = section(result.stdout, "A shift")
    assert [row[2] for row in rows_of(shift, "(count)")] == ["rejected: unknown-part"] * 3
    assert [row[2] for row in rows_of(shift, "DOCK-1")] == ["rejected: not-a-card"]
    assert "== Kanban cards" not in result.stdout
    assert "== Counts against consumption" not in result.stdout
    assert "== Stock (`edge stock`) ==" in result.stdout
