"""CSV problems are reported by the line a record starts on, multi-line records included."""

from __future__ import annotations

from pathlib import Path

from edge.masterdata.csv_files import read_csv


def _errors(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "items.csv"
    path.write_text(text, encoding="utf-8")
    result = read_csv(path, columns=("part", "description"), required=("part",))
    return [str(error) for error in result.errors]


def test_a_record_spread_over_lines_is_reported_where_it_starts(tmp_path: Path) -> None:
    text = 'part,description\nBOLT,"two\nlines"\n\nNUT,x,extra\n"SCREW","a\nb\nc",extra\n'
    assert _errors(tmp_path, text) == [
        "items.csv:5: has 3 fields; the header has 2",
        "items.csv:6: has 3 fields; the header has 2",
    ]


def test_good_records_after_a_multi_line_one_keep_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_text('part,description\nA,"x\ny"\nB,z\n', encoding="utf-8")
    result = read_csv(path, columns=("part", "description"), required=("part",))
    assert result.errors == []
    assert [(row.line, row.cells["part"]) for row in result.rows] == [(2, "A"), (4, "B")]
