"""The retained stock message: a part's stock and what explains it, as a payload and as
the JSON text the store writes (the two must agree byte for byte)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from edge.domain import exactjson, stock_message
from edge.domain.model import Card, CardState, Item, ReorderPolicy, Replenishment
from edge.domain.ports import Balance
from edge.domain.usage import LastCount, Usage

D = Decimal


def test_a_stock_payload_carries_the_balance_and_what_explains_it() -> None:
    gasket = Item("R-GASKET", uom="m", policy=ReorderPolicy(reorder_point=D("2.5")))
    at = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
    # 28 used in the window (3 of them today), 14 before it; counted at 50 after 4 were used.
    balance = Balance(
        D("-4949.9999999"),
        used=Usage(backflush=D(40), scrap=D(2), bom=D(40)),
        daily=(("2026-02-28", D(14)), ("2026-03-01", D(25)), ("2026-03-14", D(3))),
        counted=LastCount("2026-03-01T07:00:00.000Z", D(50), Usage(backflush=D(4))),
    )
    payload = stock_message.stock_payload("R-GASKET", balance, D(10), gasket, at, cards=None)
    assert exactjson.dumps(payload) == (
        '{"schema":"3","part":"R-GASKET","on_hand":-4949.9999999,"on_order":10,'
        '"position":-4939.9999999,"reorder_point":2.5,"uom":"m","replenishment":"reorder",'
        '"last_counted_at":"2026-03-01T07:00:00.000Z","last_counted":50,'
        '"consumed_since_count":38,"average_daily_use":2,"days_of_cover":0,"cards":null,'
        '"updated_at":"2026-03-14T09:30:00.000Z"}'
    )
    screw = Item("R-SCREW", stocked=True, replenishment=Replenishment.KANBAN)
    cards = [
        Card("KB-1", "R-SCREW", D(100)),
        Card("KB-2", "R-SCREW", D(100), state=CardState.EMPTY),
    ]
    kanban = stock_message.stock_payload("R-SCREW", Balance(D(150), daily=(("2026-03-14", D(42)),)),
                                  D(0), screw, at, cards=cards)  # fmt: skip
    assert kanban["cards"] == {"full": ["KB-1"], "empty": ["KB-2"]}
    assert (kanban["average_daily_use"], kanban["days_of_cover"]) == (D(3), D(50))
    unknown = stock_message.stock_payload("R-?", Balance(D(1)), D(0), None, at, cards=None)
    assert (unknown["reorder_point"], unknown["uom"], unknown["days_of_cover"]) == (None,) * 3


@pytest.mark.parametrize(
    "snapshot",
    [
        stock_message.StockSnapshot("R-?", Balance(D(1)), D(0), None,
                                    datetime(2026, 3, 2, tzinfo=UTC), None),
        stock_message.StockSnapshot(
            'R-"ODD"/é', Balance(D("-0.5"), used=Usage(scrap=D(3)), daily=(("2026-03-02", D(3)),),
                                 counted=LastCount("2026-03-01T07:00:00.000Z", D(4), Usage())),
            D("12.25"), Item("R-X", uom="M", policy=ReorderPolicy(reorder_point=D(2))),
            datetime(2026, 3, 2, 6, 30, 0, 123000, tzinfo=UTC), None,
        ),
        stock_message.StockSnapshot(
            "R-SCREW", Balance(D(150), daily=(("2026-03-14", D(42)),)), D(0),
            Item("R-SCREW", stocked=True, replenishment=Replenishment.KANBAN),
            datetime(2026, 3, 14, 9, tzinfo=UTC),
            (Card("KB-2", "R-SCREW", D(100), state=CardState.EMPTY), Card("KB-1", "R-SCREW", D(1))),
        ),
    ],
    ids=["unknown-part", "counted-negative-odd-name", "kanban"],
)  # fmt: skip
def test_a_stock_snapshots_text_is_its_payload_written_as_exact_json(
    snapshot: stock_message.StockSnapshot,
) -> None:
    assert snapshot.text() == exactjson.dumps(snapshot.payload())
