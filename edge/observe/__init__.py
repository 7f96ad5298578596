"""The operations view: what the running daemon shows of itself, off the scan path.

The station display (a live page per station), ``/metrics``, ``/healthz`` and
the status file ``edge status`` reads. Everything here reads what the daemon
already knows (its threads' states) or reads the database on a read-only
connection of its own; the scan writer only signals that it committed
(:class:`~edge.observe.signal.CommitSignal`) and hands over its timings.
"""
