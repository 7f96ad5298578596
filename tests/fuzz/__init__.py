"""Fuzzing: hostile input through the real decoders, the real service and the ``edge`` command.

Every property here feeds input no scanner, file or operator should send, and checks
what the product promises for bad input: nothing raises, every scan is journaled once
with its fate, and a refused file or config exits 2, names the file (and line) and
changes nothing.

- ``test_wedge_streams``: real ``evdev.InputEvent`` streams into ``KeyboardWedgeDecoder``;
- ``test_scan_path``: raw reads through ``hardware.barcode.decode`` and the real
  ``ScanWriter`` / ``InventoryService`` on a real SQLite file;
- ``test_csv_imports``: ``edge import items|bom|stock`` on hostile CSV files;
- ``test_config_files``: ``edge check-config`` and ``edge run`` on hostile config files.

The suite runs with the ``fuzz-ci`` Hypothesis profile by default (a few hundred
examples in all, well under half a minute on a 2-core machine). For a long run by
hand, select the ``fuzz-deep`` profile with an environment variable::

    HYPOTHESIS_PROFILE=deep .venv/bin/pytest -q tests/fuzz

(``deep`` and ``fuzz-deep`` are the same). Failing examples are saved in Hypothesis's
example database (``.hypothesis/``) and replayed first on the next run.
"""
