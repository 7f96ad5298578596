"""SQLite persistence, in the order a scan meets it.

``database`` opens the file (pragmas, migrations); ``schema`` declares the
tables and ``statements`` the scan path's plain SQL built from them, with
``rows`` turning rows into the domain's records and back. ``unit_of_work`` is
the write transaction implementing the domain's store: it inherits the parts
written straight through from ``repositories``, keeps the ``catalog``
snapshot and raises the ``counters``; ``turns`` queues a process's writers.
``outbox`` is what the MQTT relay reads and records; ``queries`` serve the
command line's read-only views.
"""
