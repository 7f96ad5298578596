"""Master data (items, BOMs, kanban cards, opening stock) into the catalog, all-or-nothing."""
