"""edge.domain.variance: each count's variance against its consumption; a part's verdict."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

import pytest

from edge.domain.model import BomLine
from edge.domain.usage import CountRecord, Usage
from edge.domain.variance import Verdict, analyse, judge

PART = "GASKET"


def count(
    variance: str,
    backflush: str = "0",
    *,
    scrap: str = "0",
    issue: str = "0",
    bom: str | None = None,
    tolerance: str = "5",
) -> CountRecord:
    """A count of GASKET: book 1000, ``variance`` off it, with this use since the previous one.

    What was backflushed went through BOMs unless ``bom`` says otherwise; :func:`numbered`
    gives a list of them their times.
    """
    used = Usage(Decimal(backflush), Decimal(scrap), Decimal(issue),
                 Decimal(backflush if bom is None else bom))  # fmt: skip
    book = Decimal(1000)
    return CountRecord(
        part=PART,
        counted_at="2026-12-01T06:00:00.000Z",
        previous_at=None,
        book=book,
        counted=book + Decimal(variance),
        variance=Decimal(variance),
        used=used,
        tolerance_pct=Decimal(tolerance),
    )


def numbered(records: Sequence[CountRecord]) -> list[CountRecord]:
    """The records as successive counts (their times in order)."""
    return [
        replace(
            record,
            counted_at=f"2026-12-{number:02}T06:00:00.000Z",
            previous_at=None if number == 1 else f"2026-12-{number - 1:02}T06:00:00.000Z",
        )
        for number, record in enumerate(records, start=1)
    ]


def line(parent: str, qty_per: str) -> BomLine:
    return BomLine(parent, PART, Decimal(qty_per))


@pytest.mark.parametrize(
    ("record", "pct", "over"),
    [
        (count("-20", "200"), "-10.00", True),  # 20 short on 200 used
        (count("-10", "200"), "-5.00", False),  # at the tolerance is within it
        (count("-10.02", "200"), "-5.01", True),
        (count("20", "200"), "10.00", True),  # over as well as short
        (count("-7", "100", scrap="30", issue="10"), "-5.00", False),  # of all 140 consumed
        (count("1", "6"), "16.67", True),  # 16.666... to two places
        (count("-1", "3", tolerance="50"), "-33.33", False),  # the item's own tolerance
        (count("0", "0"), None, False),  # nothing used and nothing missing
        (count("0", "200"), "0.00", False),
        (count("-3", "0"), None, True),  # nothing used, yet 3 gone: always beyond tolerance
        (count("-0.5", "0.25", bom="0", tolerance="0"), "-200.00", True),
    ],
)
def test_each_count_is_judged_against_its_consumption(
    record: CountRecord, pct: str | None, over: bool
) -> None:
    judged = judge(record)
    assert (None if judged.pct is None else str(judged.pct), judged.over) == (pct, over)


GASKET_BOM = [line("FG-A", "2")]

# Each case: the counts in order, the BOM lines using GASKET, the verdict, how many of
# the latest counts it rests on, and for a BOM suspect the implied quantity per parent.
VERDICTS = [
    pytest.param(
        [count("-20", "200")] * 3,
        GASKET_BOM,
        Verdict.BOM_SUSPECT,
        3,
        {"FG-A": "2.2"},
        id="three rounds of 100 FG-A, each 20 gaskets short: 2.2 per FG-A, not 2",
    ),
    pytest.param(
        [count("-20", "200")],
        GASKET_BOM,
        Verdict.SHRINKAGE,
        1,
        {},
        id="a single count short: no repetition, no BOM suspect",
    ),
    pytest.param(
        [count("20", "200")],
        GASKET_BOM,
        Verdict.SURPLUS,
        1,
        {},
        id="a single count over",
    ),
    pytest.param(
        [count("-20", "200"), count("20", "200"), count("-20", "200")],
        GASKET_BOM,
        Verdict.SHRINKAGE,
        1,
        {},
        id="mixed signs: the latest alone, short",
    ),
    pytest.param(
        [count("-20", "200"), count("-20", "200"), count("20", "200")],
        GASKET_BOM,
        Verdict.SURPLUS,
        1,
        {},
        id="mixed signs: the latest alone, over",
    ),
    pytest.param(
        [count("20", "200"), count("-20", "200"), count("-30", "300")],
        GASKET_BOM,
        Verdict.BOM_SUSPECT,
        2,
        {"FG-A": "2.2"},
        id="the latest two repeat: 50 short on 500 through the BOM",
    ),
    pytest.param(
        [count("-20", "200"), count("-20", "200"), count("-5", "200")],
        GASKET_BOM,
        Verdict.WITHIN,
        1,
        {},
        id="the latest within tolerance (the BOM was corrected)",
    ),
    pytest.param(
        [count("-20", "200"), count("0", "200")],
        GASKET_BOM,
        Verdict.WITHIN,
        1,
        {},
        id="the latest met the book",
    ),
    pytest.param([], GASKET_BOM, Verdict.WITHIN, 0, {}, id="no counts"),
    pytest.param(
        [count("-3", "0"), count("-2", "0")],
        GASKET_BOM,
        Verdict.SHRINKAGE,
        2,
        {},
        id="zero consumption, stock still gone: not the BOM's doing",
    ),
    pytest.param(
        [count("0", "0"), count("0", "0")],
        GASKET_BOM,
        Verdict.WITHIN,
        1,
        {},
        id="zero consumption, nothing missing",
    ),
    pytest.param(
        [count("-30", "300"), count("-30", "300")],
        [line("FG-B", "0.5"), line("FG-A", "2")],
        Verdict.BOM_SUSPECT,
        2,
        {"FG-A": "2.2", "FG-B": "0.55"},
        id="two parents: the same ratio on each line's qty_per",
    ),
    pytest.param(
        [count("-22", "200", scrap="10", issue="10")] * 2,
        GASKET_BOM,
        Verdict.BOM_SUSPECT,
        2,
        {"FG-A": "2.22"},
        id="scrap and issue beside backflush: -10 % of 220, all of it put on the BOM",
    ),
    pytest.param(
        [count("-10", issue="50", bom="0")] * 2,
        GASKET_BOM,
        Verdict.SHRINKAGE,
        2,
        {},
        id="only issued, never through a BOM: repeated, yet not a BOM suspect",
    ),
    pytest.param(
        [count("-20", "200"), count("-5", scrap="50")],
        GASKET_BOM,
        Verdict.SHRINKAGE,
        2,
        {},
        id="one count of the run without BOM consumption",
    ),
    pytest.param(
        [count("20", "200"), count("20", "200")],
        GASKET_BOM,
        Verdict.BOM_SUSPECT,
        2,
        {"FG-A": "1.8"},
        id="consistently over: the BOM asks for too many",
    ),
    pytest.param(
        [count("-20", "200"), count("-20", "200")],
        [],
        Verdict.BOM_SUSPECT,
        2,
        {},
        id="consumed through a BOM that no longer lists the part",
    ),
    pytest.param(
        [count("-20", "200", tolerance="15")] * 3,
        GASKET_BOM,
        Verdict.WITHIN,
        1,
        {},
        id="within the item's own wider tolerance",
    ),
]


@pytest.mark.parametrize(("records", "lines", "verdict", "judged", "implied"), VERDICTS)
def test_the_verdict_over_a_parts_counts(
    records: list[CountRecord],
    lines: list[BomLine],
    verdict: Verdict,
    judged: int,
    implied: dict[str, str],
) -> None:
    result = analyse(PART, numbered(records), lines)
    assert (result.verdict, result.judged) == (verdict, judged)
    assert {use.parent: str(use.implied) for use in result.implied} == implied
    if verdict is Verdict.BOM_SUSPECT:
        assert [use.parent for use in result.implied] == sorted(line.parent for line in lines)
        assert {use.parent: use.qty_per for use in result.implied} == {
            line.parent: line.qty_per for line in lines
        }
    assert [c.record.counted_at for c in result.counts] == [r.counted_at for r in numbered(records)]
    assert result.latest == (result.counts[-1] if records else None)


def test_the_gasket_example_count_by_count() -> None:
    result = analyse(PART, numbered([count("-20", "200")] * 3), GASKET_BOM)
    assert [(str(c.record.variance), str(c.pct), c.over) for c in result.counts] == [
        ("-20", "-10.00", True),
    ] * 3
    [use] = result.implied
    assert (use.parent, use.qty_per, use.implied) == ("FG-A", Decimal(2), Decimal("2.2"))
    assert str(use.implied) == "2.2"
