"""Master data (items, BOMs, opening stock) into the catalog, all-or-nothing."""
