"""The backlog the relay reports is kept by triggers, and always equals a count of the rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import Engine, text

from edge.store import outbox, schema
from edge.store.database import _alembic_config, open_database
from tests.shop_floor import ShopFloor

ITEMS = "part,stocked,reorder_point,reorder_qty\nBOLT,true,5,20\nNUT,true,,\n"


def _counted(engine: Engine) -> tuple[int, int]:
    with engine.connect() as connection:
        events = connection.execute(
            text("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        ).scalar_one()
        set_aside = connection.execute(
            text("SELECT count(*) FROM outbox WHERE published_at IS NULL AND set_aside")
        ).scalar_one()
    return int(events), int(set_aside)


def _reported(engine: Engine) -> tuple[int, int]:
    backlog = outbox.backlog(engine)
    return backlog.events, backlog.set_aside


def test_backlog_follows_commits_answers_refusals_and_purges(floor: ShopFloor) -> None:
    engine = floor.engine
    floor.load(ITEMS)
    for _ in range(6):
        floor.receive("BOLT", "2")
        floor.scan("PACK-1", "NUT")  # accepted or rejected, it writes an event either way
    seqs = [row.seq for row in floor.rows(schema.outbox)]
    assert len(seqs) >= 12
    assert _reported(engine) == _counted(engine) == (len(seqs), 0)

    now = datetime.now(UTC)
    outbox.record_answers(
        engine, published=seqs[:5], refused={seqs[6]: "not authorized"}, stock={}, at=now
    )
    assert _reported(engine) == _counted(engine) == (len(seqs) - 5, 1)
    # An answer for a row already marked changes nothing.
    outbox.record_answers(engine, published=seqs[:3], refused={}, stock={}, at=now)
    assert _reported(engine) == _counted(engine) == (len(seqs) - 5, 1)
    # The refused row is accepted on a retry: no longer set aside, no longer pending.
    outbox.record_answers(engine, published=[seqs[6]], refused={}, stock={}, at=now)
    assert _reported(engine) == _counted(engine) == (len(seqs) - 6, 0)

    assert outbox.purge_published(engine, now + timedelta(days=1)) == 6
    assert _reported(engine) == _counted(engine) == (len(seqs) - 6, 0)
    floor.receive("BOLT", "1")
    assert _reported(engine) == _counted(engine)
    assert _reported(engine)[0] == len(seqs) - 5


def test_upgrading_a_database_with_a_backlog_counts_it(tmp_path: Path) -> None:
    path = tmp_path / "edge.db"
    engine = open_database(path)
    with engine.begin() as connection:
        command.downgrade(_alembic_config(connection), "0003")
        for seq, published in ((1, "2026-11-27T10:00:00.000Z"), (2, None), (3, None)):
            connection.execute(
                text(
                    "INSERT INTO outbox (seq, event_id, type, topic, payload, created_at, "
                    "published_at, attempts) VALUES (:seq, :id, 'receipt', 't', '{}', "
                    "'2026-11-27T10:00:00.000Z', :published, 0)"
                ),
                {"seq": seq, "id": f"event-{seq}", "published": published},
            )
    engine.dispose()
    engine = open_database(path, upgrade=True)  # upgrades to the head
    assert _reported(engine) == _counted(engine) == (2, 0)
    engine.dispose()


def test_answers_are_written_unsynced_and_the_connection_is_durable_again(
    floor: ShopFloor,
) -> None:
    """The relay's answers commit with synchronous=NORMAL; the pooled connection goes back FULL."""
    floor.load("part,description\nR-1,Raw\n")
    floor.opening(**{"R-1": "5"})
    [event] = floor.events()
    engine = floor.engine
    outbox.record_answers(engine, published=[event["seq"]], refused={}, stock={},
                          at=datetime.now(UTC))  # fmt: skip
    assert _counted(engine)[0] == 0
    with engine.connect() as connection:  # the pool hands back the connection just used
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
