"""Commands from central systems over MQTT (SPEC §11): parse, validate, apply, answer.

The modules, in the order a command goes through them:

* :mod:`~edge.commands.names`: the command types (standard library only; the
  config checks ``[commands] allow`` against them).
* :mod:`~edge.commands.subscriber`: the paho client with its own persistent
  session; PUBACK is sent only after the command's effect and answer are committed.
* :mod:`~edge.commands.parse`: a payload validated into a typed command, or the
  errors with their JSON paths; pure, no I/O.
* :mod:`~edge.commands.apply`: the command run through the same domain operations
  as the command line, with its ``command-result`` event in the same transaction.
* :mod:`~edge.commands.results`: the answers, and the ``commands`` table that makes
  a repeated ``command_id`` a duplicate.

Importing this package loads nothing: paho is imported only with the subscriber.
"""
