"""The plain SQL text of the scan path.

The unit of work runs these statements on the driver's connection (see
unit_of_work.py for why); rows.py builds their parameters and reads their rows.
"""

from __future__ import annotations

BALANCE = "SELECT on_hand, armed FROM balances WHERE part = ?"
HAS_BALANCE = "SELECT 1 FROM balances WHERE part = ?"
SAVE_BALANCE = (
    "INSERT INTO balances (part, on_hand, armed) VALUES (?, ?, ?) "
    "ON CONFLICT (part) DO UPDATE SET on_hand = excluded.on_hand, armed = excluded.armed"
)
HAS_STRUCTURE = "SELECT 1 FROM bom_structures WHERE bom_hash = ?"
ADD_STRUCTURE = "INSERT INTO bom_structures (bom_hash, lines, created_at) VALUES (?, ?, ?)"
ADD_TRANSACTION = (
    "INSERT INTO transactions (kind, part, quantity, station, scanner, scan_id, bom_hash, "
    "reason, at, mono, boot_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SET_TRANSACTION_EVENT = "UPDATE transactions SET event_id = ? WHERE id = ?"
APPEND_LEDGER = (
    "INSERT INTO ledger (txn_id, part, quantity, kind, scan_id, bom_hash) VALUES (?, ?, ?, ?, ?, ?)"
)
SERIAL_SHIPPED = "SELECT 1 FROM shipped_serials WHERE gtin = ? AND serial = ?"
RECORD_SERIAL = "INSERT INTO shipped_serials (gtin, serial, txn_id) VALUES (?, ?, ?)"
# Both read the columns rows.reorder_from_row takes, in its order.
REORDER = (
    "SELECT id, part, ordered, received, open, created_at, close_reason FROM reorders WHERE id = ?"
)
OPEN_REORDERS = (
    "SELECT id, part, ordered, received, open, created_at, close_reason FROM reorders "
    "WHERE part = ? AND open IS 1 ORDER BY id"
)
STATION_STATE = (
    "SELECT mode, qty, qty_at, qty_mono, qty_boot, qty_scan, "
    "reason, reason_at, reason_mono, reason_boot, reason_scan "
    "FROM station_state WHERE station = ?"
)
SAVE_STATION_STATE = (
    "INSERT INTO station_state (station, mode, qty, qty_at, qty_mono, qty_boot, qty_scan, "
    "reason, reason_at, reason_mono, reason_boot, reason_scan) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (station) DO UPDATE SET "
    "mode = excluded.mode, qty = excluded.qty, qty_at = excluded.qty_at, "
    "qty_mono = excluded.qty_mono, qty_boot = excluded.qty_boot, qty_scan = excluded.qty_scan, "
    "reason = excluded.reason, reason_at = excluded.reason_at, "
    "reason_mono = excluded.reason_mono, reason_boot = excluded.reason_boot, "
    "reason_scan = excluded.reason_scan"
)
ADD_SCAN = (
    "INSERT INTO scans (scanner, station, data, code, symbology, gtin, serial, batch, status, "
    "reason, at, mono, boot_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SET_SCAN_OUTCOME = "UPDATE scans SET status = ?, reason = ? WHERE id = ?"
ADD_EVENT = (
    "INSERT INTO outbox (seq, event_id, type, topic, payload, created_at, attempts) "
    "VALUES (?, ?, ?, ?, ?, ?, 0)"
)
PUT_STOCK_SNAPSHOT = (
    "INSERT INTO stock_state (part, topic, payload, version, published_version) "
    "VALUES (?, ?, ?, 1, 0) ON CONFLICT (part) DO UPDATE SET topic = excluded.topic, "
    "payload = excluded.payload, version = stock_state.version + 1"
)
