"""`edge import cards` and `edge cards` as a user runs them: kanban parts and their cards,
full or empty, for how long, and which are late."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from edge.domain.timestamps import rfc3339
from tests.e2e.conftest import Edge, describe

ITEMS = """\
part,description,uom,stocked,reorder_point,reorder_qty,max_qty,order_multiple,lead_time_days,aliases,replenishment,count_tolerance_pct
R-SCREW,Screw,EA,,40,,,,2,,kanban,2.5
R-GREASE,Grease,KG,,,,,,,,kanban,
R-NUT,Nut,EA,,5,10,,,,,,
"""
CARDS = """\
card,part,container_qty,location
K-SCREW-2,R-SCREW,100,
K-SCREW-1,R-SCREW,100,A-01
K-GREASE-1,R-GREASE,2.5,B-07
"""


def loaded(edge: Edge) -> Edge:
    edge.ok("import", "items", str(edge.write("items.csv", ITEMS)))
    result = edge.ok("import", "cards", str(edge.write("cards.csv", CARDS)))
    assert result.stdout == "imported cards.csv: 3 kanban cards: 3 added, 0 updated\n"
    # The same progress as every import, on stderr.
    assert "cards.csv: 3 rows validated in" in result.stderr
    assert "cards.csv: 3 rows applied in one transaction" in result.stderr
    return edge


def empty_card(edge: Edge, card: str, ago: timedelta) -> None:
    """Leave ``card`` as an empty-card scan ``ago`` leaves it (the scan is not this test's)."""
    connection = sqlite3.connect(edge.database)
    with connection:
        connection.execute(
            "UPDATE cards SET state = 'empty', emptied_at = ? WHERE card = ?",
            (rfc3339(datetime.now(UTC) - ago), card),
        )
    connection.close()


def test_cards_are_imported_and_listed_by_part_then_card(edge: Edge) -> None:
    loaded(edge)

    rows = edge.json("cards")

    assert [(row["part"], row["card"]) for row in rows] == [
        ("R-GREASE", "K-GREASE-1"), ("R-SCREW", "K-SCREW-1"), ("R-SCREW", "K-SCREW-2"),
    ]  # fmt: skip
    assert rows[0] == {
        "card": "K-GREASE-1",
        "part": "R-GREASE",
        "location": "B-07",
        "container_qty": Decimal("2.5"),
        "uom": "KG",
        "state": "full",
        "emptied_at": None,
        "empty_for_s": None,
        "lead_time_days": None,
        "late": False,
    }
    assert [row["card"] for row in edge.json("cards", "--part", "R-SCREW")] == [
        "K-SCREW-1", "K-SCREW-2"
    ]  # fmt: skip
    assert edge.json("cards", "--part", "R-NUT") == []
    table = edge.ok("cards").stdout.splitlines()
    assert table[0].split() == [
        "card", "part", "location", "container_qty", "uom", "state", "empty", "for", "late"
    ]  # fmt: skip
    assert table[2].split() == ["K-GREASE-1", "R-GREASE", "B-07", "2.5", "KG", "full", "-"]


def test_an_empty_card_tells_how_long_and_is_late_past_the_lead_time(edge: Edge) -> None:
    loaded(edge)
    empty_card(edge, "K-SCREW-1", timedelta(days=2, hours=5, minutes=10))  # lead time 2 days
    empty_card(edge, "K-SCREW-2", timedelta(hours=3, minutes=20, seconds=30))
    empty_card(edge, "K-GREASE-1", timedelta(days=30))  # no lead time: never late

    rows = {row["card"]: row for row in edge.json("cards")}

    assert (rows["K-SCREW-1"]["state"], rows["K-SCREW-1"]["late"]) == ("empty", True)
    assert rows["K-SCREW-1"]["emptied_at"].endswith("Z")
    assert rows["K-SCREW-1"]["empty_for_s"] >= (2 * 24 + 5) * 3600 + 600
    assert (rows["K-SCREW-2"]["late"], rows["K-GREASE-1"]["late"]) == (False, False)
    lines = {line.split()[0]: line for line in edge.ok("cards").stdout.splitlines()[2:]}
    assert " empty  2 d 5 h " in lines["K-SCREW-1"]
    assert lines["K-SCREW-1"].endswith("  LATE")
    assert lines["K-SCREW-2"].rstrip().endswith("empty  3 h 20 min")
    assert lines["K-GREASE-1"].rstrip().endswith("empty  30 d")

    # An upsert changes the container, not the state.
    again_csv = edge.write("again.csv", "card,part,container_qty\nK-SCREW-1,R-SCREW,120\n")
    edge.ok("import", "cards", str(again_csv))
    again = {row["card"]: row for row in edge.json("cards")}["K-SCREW-1"]
    assert (again["container_qty"], again["state"], again["emptied_at"]) == (
        Decimal(120), "empty", rows["K-SCREW-1"]["emptied_at"]
    )  # fmt: skip


def test_a_bad_cards_file_is_refused_with_its_places_and_changes_nothing(edge: Edge) -> None:
    loaded(edge)
    before = edge.snapshot()
    bad = edge.write("bad.csv", "card,part,container_qty\nK-NUT-1,R-NUT,10\nR-SCREW,R-SCREW,-1\n")

    result = edge("import", "cards", str(bad))

    assert result.returncode == 2, describe(result)
    assert "bad.csv:2:2 (part): 'R-NUT' is replenished by reorders" in result.stderr
    assert "bad.csv:3:1 (card): 'R-SCREW' is a part number" in result.stderr
    assert "bad.csv:3:3 (container_qty): must be greater than 0" in result.stderr
    assert edge.snapshot() == before
    # And the other direction: an item named like a card.
    clash = edge("import", "items", str(edge.write("i.csv", "part\nK-SCREW-1\n")))
    assert clash.returncode == 2, describe(clash)
    assert "i.csv:2:1 (part): 'K-SCREW-1' is the id of a kanban card" in clash.stderr


def test_edge_cards_on_a_database_without_cards_is_an_empty_list(demo_edge: Edge) -> None:
    assert demo_edge.json("cards") == []
    assert demo_edge.ok("cards").stdout.splitlines()[0].startswith("card")


def test_check_config_prints_the_inventory_table(edge: Edge) -> None:
    out = edge.ok("check-config").stdout
    assert '[inventory]\nkanban_reconcile = "report"\ncount_tolerance_pct = 5\n' in out


def test_a_card_scanned_empty_by_edge_scan_is_refilled_by_edge_receive_card(edge: Edge) -> None:
    loaded(edge)
    edge.ok("import", "stock", str(edge.write("stock.csv", "part,on_hand\nR-SCREW,200\n")))
    scanned = edge.ok("scan", "--station", "SCRAP-1", "QTY:5", "R-SCREW", "K-SCREW-1")
    assert "card K-SCREW-1 empty: refill requested" in scanned.stdout
    [empty] = [e["payload"] for e in edge.json("events") if e["payload"]["type"] == "kanban-empty"]
    # 5 scrapped since the cards were loaded, against a container of 100 (reported only).
    assert (empty["consumed"], empty["reconciliation"], empty["adjusted"]) == (5, -95, False)

    refilled = edge.ok("receive", "--card", "K-SCREW-1")
    assert refilled.stdout == "card K-SCREW-1 refilled: received 100 x R-SCREW; on hand 295\n"
    again = edge("receive", "--card", "K-SCREW-1")
    assert again.returncode == 2, describe(again)
    assert "card K-SCREW-1 is full" in again.stderr
    for args in (["R-SCREW", "5", "--card", "K-SCREW-1"], ["--card", "K-NOPE"], ["R-SCREW"]):
        refused = edge("receive", *args)
        assert refused.returncode == 2, describe(refused)
    states = {row["card"]: row["state"] for row in edge.json("cards")}
    assert states == {"K-GREASE-1": "full", "K-SCREW-1": "full", "K-SCREW-2": "full"}


def test_a_count_taken_earlier_leaves_the_later_scans_out_of_its_variance(edge: Edge) -> None:
    loaded(edge)
    edge.ok("import", "stock", str(edge.write("stock.csv", "part,on_hand\nR-NUT,50\n")))
    taken = rfc3339(datetime.now(UTC))
    edge.ok("scan", "--station", "SCRAP-1", "QTY:4", "R-NUT")  # after the counter looked
    counted = edge.ok("count", "R-NUT", "49", "--counted-at", taken)
    # The book when counted was 50: 1 short, nothing used before the count; the 4 stay out.
    assert counted.stdout.startswith(f"counted 49 x R-NUT at {taken} (book 50, variance -1;")
    assert "beyond the 5 % tolerance" in counted.stdout
    [stock] = [row for row in edge.json("stock") if row["part"] == "R-NUT"]
    assert (stock["on_hand"], stock["last_counted"], stock["consumed_since_count"]) == (45, 49, 4)
    late = edge("count", "R-NUT", "1", "--counted-at", "2999-01-01T00:00:00Z")
    assert late.returncode == 2, describe(late)
    assert "counted_at is later than now" in late.stderr
