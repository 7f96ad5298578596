"""edge.publish.losses: which message a broker drops the connection on."""

from __future__ import annotations

from edge.publish.losses import CALM_ACKS, LOSS_WINDOW_S, LOSSES_TO_BLAME, LossWatch

POISON = ("event", 7)
OTHER = ("event", 6)


def test_the_same_fresh_message_in_flight_at_each_loss_is_blamed() -> None:
    watch = LossWatch()
    now = 100.0
    for _ in range(LOSSES_TO_BLAME - 1):
        assert watch.lost([(POISON, now - 0.01), (("event", 8), now)], now) == []
        assert watch.careful  # one at a time from now on
        now += 2
    assert watch.lost([(POISON, now - 0.01)], now) == [POISON]
    assert not watch.careful
    # Sent again (its retry) and the connection lost again: blamed at once.
    assert watch.lost([(OTHER, now + 1), (POISON, now + 1)], now + 1.1) == [POISON]
    watch.acknowledged(POISON)  # the broker took it after all (its limit changed)
    assert watch.lost([(POISON, now + 5)], now + 5.1) == []


def test_an_ordinary_restart_blames_nothing() -> None:
    watch = LossWatch()
    # The broker stops while events stream: whatever is oldest in flight is suspect...
    assert watch.lost([(OTHER, 10.0)], 10.1) == []
    # ...and acknowledged after the reconnect, so the next loss starts afresh.
    watch.acknowledged(OTHER)
    assert watch.lost([(OTHER, 20.0)], 20.1) == []
    assert watch.lost([(OTHER, 30.0)], 30.1) == []  # twice in a row now, still not three


def test_a_loss_long_after_the_send_or_with_another_suspect_resets() -> None:
    watch = LossWatch()
    assert watch.lost([(POISON, 0.0)], 0.1) == []
    assert watch.lost([(POISON, 1.0)], 1.0 + LOSS_WINDOW_S + 1) == []  # a keepalive timeout
    assert not watch.careful
    assert watch.lost([(POISON, 10.0)], 10.1) == []
    assert watch.lost([(OTHER, 11.0)], 11.1) == []  # another one: counting starts again
    assert watch.lost([(POISON, 12.0)], 12.1) == []
    assert watch.lost([(POISON, 13.0)], 13.1) == []
    assert watch.lost([], 14.0) == []  # nothing in flight
    assert not watch.careful


def test_care_ends_after_enough_acknowledgements() -> None:
    watch = LossWatch()
    watch.lost([(POISON, 0.0)], 0.1)
    for number in range(CALM_ACKS):
        assert watch.careful
        watch.acknowledged(("event", 100 + number))
    assert not watch.careful
