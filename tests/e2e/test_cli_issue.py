"""`edge issue` as a user runs it (SPEC §13, unrecorded usage): stock used for
engineering, test or internal work is transacted with its reason.
"""

from __future__ import annotations

from decimal import Decimal

from tests.e2e.conftest import Edge, describe

OPENING_EVENTS = 3  # the demo's opening-balances, low-stock and reorder events


def test_issue_takes_stock_out_with_its_reason_and_refuses_a_wrong_station(
    demo_edge: Edge,
) -> None:
    floor = demo_edge
    result = floor.ok("issue", "RM-IMPELLER", "2", "--reason", "TEST")
    assert "issued 2 x RM-IMPELLER (TEST)" in result.stdout
    stock = {row["part"]: row for row in floor.json("stock")}
    assert Decimal(stock["RM-IMPELLER"]["on_hand"]) == 10

    wrong = floor("issue", "RM-IMPELLER", "1", "--reason", "TEST", "--station", "SCRAP-1")
    assert wrong.returncode == 2, describe(wrong)
    assert "SCRAP-1 is a scrap station, not an issue one" in wrong.stderr
    nothing = floor("issue", "RM-IMPELLER", "0", "--reason", "TEST")
    assert nothing.returncode == 2, describe(nothing)
    blank = floor("issue", "RM-IMPELLER", "1", "--reason", " ")
    assert blank.returncode == 2, describe(blank)

    events = [row["payload"] for row in floor.json("events")][OPENING_EVENTS:]
    assert [event["type"] for event in events] == ["issue", "low-stock", "reorder"]
    [issue] = [event for event in events if event["type"] == "issue"]
    assert (issue["type"], issue["part"], issue["reason"]) == ("issue", "RM-IMPELLER", "TEST")
    assert [(line["part"], line["quantity"]) for line in issue["lines"]] == [("RM-IMPELLER", 2)]
