"""``edge demo``: the real pipeline with virtual scanners, and the demo's data."""

from pathlib import Path

# items.csv, bom.csv, stock.csv and cards.csv of the demo plant, shipped inside the package.
DEMO_DATA = Path(__file__).resolve().parent / "data"
