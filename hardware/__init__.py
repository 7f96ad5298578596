"""Scanner adapters and barcode decoding.

Knows scanners and barcodes and nothing of inventory: nothing here imports ``edge``.
"""
