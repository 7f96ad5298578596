"""The pump catalog the rule tests run on, as domain objects, and a store holding it.

FG-100 (a pump, phantom) explodes through the phantom KIT-1 and consumes the
stocked sub-assembly SUB-200 as itself; SUB-200 has a BOM of its own that a
build backflushes. The purchased parts carry the three kinds of reorder
policy: lots (R-HOUSING), up to a maximum in multiples (R-SCREW) and a
reorder point alone (R-WIRE, SUB-200).
"""

from __future__ import annotations

from decimal import Decimal

from edge.domain.model import BomLine, Item, ReorderPolicy
from edge.domain.ports import Moment
from edge.domain.quantity import mul
from tests.unit.fake_store import InMemoryStore

D = Decimal

FG_GTIN = "09501101530003"
HOUSING_GTIN = "04006381333931"
WIRE_GTIN = "00036000291452"  # UPC-A 036000291452, normalized to 14 digits

ITEMS = (
    Item("FG-100", "Pump", aliases=(FG_GTIN, "CUST-77")),
    Item("KIT-1", "Fastener kit"),
    Item("SUB-200", "Motor", stocked=True, policy=ReorderPolicy(reorder_point=D(2))),
    Item(
        "R-HOUSING",
        "Housing",
        policy=ReorderPolicy(reorder_point=D(10), reorder_qty=D(25)),
        aliases=(HOUSING_GTIN,),
    ),
    Item(
        "R-SCREW",
        "Screw",
        policy=ReorderPolicy(reorder_point=D(100), max_qty=D(500), order_multiple=D(50)),
    ),
    Item("R-GASKET", "Gasket"),
    Item("R-WIRE", "Wire", uom="M", policy=ReorderPolicy(reorder_point=D(5)), aliases=(WIRE_GTIN,)),
)
UOM = {item.part: item.uom for item in ITEMS}
BOM = (
    BomLine("FG-100", "KIT-1", D(1)),
    BomLine("FG-100", "SUB-200", D(1)),
    BomLine("FG-100", "R-HOUSING", D(1)),
    BomLine("KIT-1", "R-SCREW", D(4)),
    BomLine("KIT-1", "R-GASKET", D("0.5"), D(10)),
    BomLine("SUB-200", "R-WIRE", D("0.311")),
    BomLine("SUB-200", "R-SCREW", D(2)),
)
# R-WIRE has no opening balance.
OPENING = {"SUB-200": D(20), "R-HOUSING": D(50), "R-SCREW": D(1000), "R-GASKET": D(100)}
# One FG-100 as ledger rows: the phantom kit exploded (0.5 + 10 % scrap = 0.55
# gaskets), the sub-assembly issued as itself, its own components untouched.
ONE_FG = [("R-GASKET", D("-0.55")), ("R-HOUSING", D(-1)), ("R-SCREW", D(-4)), ("SUB-200", D(-1))]


def pump_store(at: Moment) -> InMemoryStore:
    """A store with the pump catalog loaded and the opening stock posted at ``at``."""
    store = InMemoryStore()
    store.load_catalog(ITEMS, BOM)
    store.post_opening(OPENING, at)
    return store


def times(rows: list[tuple[str, Decimal]], factor: str) -> list[tuple[str, Decimal]]:
    """Ledger rows scaled by a quantity, exactly."""
    return [(part, mul(quantity, Decimal(factor))) for part, quantity in rows]
