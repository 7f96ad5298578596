"""Backflush Edge: barcode scans to a durable stock ledger and MQTT events."""

__version__ = "0.1.0"
