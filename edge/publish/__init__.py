"""Publishing: outbox rows to the MQTT broker, at least once and in ``seq`` order.

The modules, in the order a message goes through them:

* :mod:`~edge.publish.topics`: every topic the node publishes (standard library
  only; the unit of work uses it to write outbox rows).
* :mod:`~edge.publish.relay`: :class:`~edge.publish.relay.OutboxRelay`, the
  thread that decides: connecting, answers, housekeeping.
* :mod:`~edge.publish.connection`: the paho client of one connection, its
  network loop, and the messages its callbacks hand over;
  :mod:`~edge.publish.wakeup`: the relay thread's one wait.
* :mod:`~edge.publish.session`: what one connection sends, up to its window.
* :mod:`~edge.publish.parts`: what fits one PUBLISH, and an event cut into
  parts that do; :mod:`~edge.publish.losses`: which message a broker drops
  the connection on.
* :mod:`~edge.publish.recorder`: the broker's answers written in batches.
* :mod:`~edge.publish.upkeep`: purge of sent rows, the backlog count, the alarm.
* Pure pieces, no I/O, unit tested on their own: :mod:`~edge.publish.window`
  (what is in flight), :mod:`~edge.publish.backoff` (back-off, retries of
  refused rows, which failures to log) and :mod:`~edge.publish.status` (the
  status message and the STATUS line).

How it is put together, and why:

* **One thread decides and drives paho.** ``OutboxRelay.run`` reads the
  outbox, publishes, and records answers, and runs paho's network loop
  itself (no ``loop_start``): it waits in ``poll()`` on the client's socket
  and a wake-up socket pair (set by the scan writer after a commit), calls
  ``loop_read``/``loop_write``/``loop_misc``, and each publish is written at
  once. With a network thread every publish was a hand-off to it, Python's
  lock passed back and forth. paho's callbacks only put the CONNACK, each
  PUBACK's message id and reason code, and the loss of the connection into
  the connection's inbox. Nothing publishes or waits inside a callback.
* **A fresh paho client for every connection.** The client is created with
  ``reconnect_on_failure=False`` and thrown away when its connection ends, so
  paho never re-sends its own in-memory copies of unacknowledged messages.
  Exactly one layer re-sends: after each CONNACK the relay publishes every
  unacknowledged row again, in ``seq`` order, from the database.
* **Sent means acknowledged.** A row is marked published only when its
  PUBACK arrives and ``reason_code.is_failure`` is false (0x10 "no matching
  subscribers" is a success). A refused row (an ACL denial) is set aside:
  logged once with its topic, retried on its own back-off, and later rows go
  on without it.
* **No message blocks the queue.** A message larger than the broker takes
  (``mqtt.max_payload_bytes``, the CONNACK's Maximum Packet Size) goes out
  in parts, or is set aside like a refused one when it cannot be split; one
  the broker closes the connection on is found by
  :class:`~edge.publish.losses.LossWatch` and set aside; a message paho will
  not take is set aside too. A row split into parts is published when every
  part is acknowledged.
* **Short writes, never across the network.** Answers are recorded in one
  ``BEGIN IMMEDIATE`` transaction per batch, after the broker has answered;
  the relay never holds the write lock while it waits for the broker. A batch
  is written by a helper thread (one batch at a time) while the relay goes on
  publishing, so a commit does not stall the window; a batch that fails is
  taken back and written again with the next. A batch is due once its oldest
  answer is a second old, or, while a backlog drains, every 1,000 answers and
  as soon as the backlog is sent.
* **State is retained, events are not.** ``{prefix}/status`` (retained, and
  the Last Will) and ``{prefix}/stock/{part}`` (retained, latest wins) are
  published again after every CONNACK, since a broker without persistence
  forgets retained messages. Events are never retained.
* **One logger name.** Every line the relay writes, whichever module decides
  it, is logged by :mod:`~edge.publish.relay` (``edge.publish.relay``), and
  paho's own lines go to ``edge.publish.relay.paho``; the other modules
  return what happened instead of logging it.

Importing this package loads nothing: paho is imported only with the relay.
"""
