"""Printable barcodes the daemon accepts: station sheets, kanban cards, part labels.

What a sheet says is decided in :mod:`edge.labels.content` from the config, the
control codes' one declaration (edge/domain/controls.py) and the catalog; it is
plain Python. Only :mod:`edge.labels.symbols` and :mod:`edge.labels.pages` draw,
with the optional ``labels`` extra (reportlab, and zxing-cpp for Data Matrix):
nothing else in the product imports them, so the daemon never loads them.
"""
