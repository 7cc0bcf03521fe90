"""The outbox: events and their messages in one transaction, order, ack, bounded loss."""

import sqlite3
import threading
import time
from datetime import timedelta

import pytest

from agent.events import PartEvent, StateEvent, new_id
from agent.store import OutboxMessage, Store

from .conftest import T0


def part(seconds: float, good: bool = True, **kw) -> PartEvent:
    return PartEvent(T0 + timedelta(seconds=seconds), good, id=new_id(), mono=seconds, **kw)


def msg(n: int, topic: str = "oee/s/a/l/part") -> OutboxMessage:
    return OutboxMessage(topic, f'{{"n": {n}}}'.encode())


def test_append_writes_event_and_messages(store: Store) -> None:
    event = part(1.0)
    assert store.append(event, [msg(1), msg(2, "oee/s/a/l/state")]) == event.id
    assert [e.id for e in store.events()] == [event.id]
    rows = store.outbox.peek()
    assert [(r.topic, r.payload, r.qos, r.retain) for r in rows] == [
        ("oee/s/a/l/part", b'{"n": 1}', 1, False),
        ("oee/s/a/l/state", b'{"n": 2}', 1, False),
    ]
    assert rows[0].seq < rows[1].seq
    assert rows[0].created == T0.timestamp()


def test_failing_outbox_insert_leaves_neither_event_nor_messages(store: Store) -> None:
    store.db.conn.execute(
        "CREATE TEMP TRIGGER refuse BEFORE INSERT ON outbox "
        "WHEN NEW.topic = 'boom' BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    event = part(1.0)
    with pytest.raises(sqlite3.IntegrityError):
        store.append(event, [msg(1), OutboxMessage("boom", b"x")])
    assert store.events() == []
    assert store.outbox.depth() == 0
    # the store stays usable after the rollback
    store.append(part(2.0), [msg(2)])
    assert store.outbox.depth() == 1
    assert store.event_count() == 1


def test_duplicate_id_is_ignored_with_its_messages(store: Store) -> None:
    event = part(1.0, good=False, defect="scratch", score=3.5)
    store.append(event, [msg(1)])
    assert store.append(event, [msg(1)]) == event.id
    assert store.event_count() == 1
    assert store.outbox.depth() == 1


def test_event_without_id_gets_one(store: Store) -> None:
    event_id = store.append(StateEvent(T0, "running"))
    assert len(event_id) == 32
    assert store.events()[0].id == event_id


def test_peek_in_order_ack_and_depth(store: Store) -> None:
    seqs = store.outbox.enqueue([msg(n) for n in range(10)])
    assert seqs == sorted(seqs)
    assert store.outbox.depth() == 10
    first = store.outbox.peek(limit=3)
    assert [r.payload for r in first] == [msg(n).payload for n in range(3)]
    assert store.outbox.ack([r.seq for r in first]) == 3
    assert store.outbox.ack([first[0].seq]) == 0  # acking twice is harmless
    assert store.outbox.depth() == 7
    rest = store.outbox.peek(limit=100)
    assert [r.payload for r in rest] == [msg(n).payload for n in range(3, 10)]
    assert [r.seq for r in store.outbox.peek(limit=2, after=rest[2].seq)] == [
        rest[3].seq,
        rest[4].seq,
    ]


def test_depth_read_while_an_append_deletes_acked_rows_counts_them_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The publisher reads `depth` on its thread while the writer's append deletes the
    acknowledged rows: between that commit and `forget_acked` a read subtracted them
    again (the daemon's stats said an outbox depth of -7 under load)."""
    seqs = store.outbox.enqueue([msg(n) for n in range(5)])
    store.outbox.ack_later(seqs[:3])  # acked, deleted by the next append's transaction
    read: list[int] = []
    forget = store.outbox.forget_acked

    def forget_while_read(acked: set[int]) -> None:
        reader = threading.Thread(target=lambda: read.append(store.outbox.depth()))
        reader.start()
        reader.join(0.2)  # the store's lock holds it until the acks are forgotten
        forget(acked)

    monkeypatch.setattr(store.outbox, "forget_acked", forget_while_read)
    store.append(part(1.0), [msg(9)])
    for _ in range(100):
        if read:
            break
        time.sleep(0.01)
    assert read == [3]  # two left and the new one, never 0 (the three taken twice)
    assert store.outbox.depth() == 3


def test_seq_never_reused_after_the_outbox_empties(store: Store) -> None:
    seqs = store.outbox.enqueue([msg(1), msg(2)])
    store.outbox.ack(seqs)
    assert store.outbox.enqueue([msg(3)])[0] > max(seqs)


def test_trim_drops_oldest_and_counts_the_loss(store: Store) -> None:
    store.outbox.enqueue([msg(n) for n in range(10)])
    assert store.outbox.trim(100) == 0
    assert store.outbox.trim(4) == 6
    assert [r.payload for r in store.outbox.peek()] == [msg(n).payload for n in range(6, 10)]
    assert store.outbox.trim(3) == 1
    assert store.outbox.lost() == 7
    rows = store.db.execute("SELECT dropped FROM outbox_loss ORDER BY seq").fetchall()
    assert rows == [(6,), (1,)]


def test_bad_messages_are_refused_before_writing(store: Store) -> None:
    with pytest.raises(ValueError, match="qos"):
        store.append(part(1.0), [OutboxMessage("t", b"x", qos=3)])
    with pytest.raises(ValueError, match="bytes"):
        store.outbox.enqueue([OutboxMessage("t", "text")])  # type: ignore[arg-type]
    assert store.event_count() == 0


def test_outbox_survives_reopen(db_path, clock) -> None:
    with Store.open(db_path, clock=clock) as first:
        first.append(part(1.0), [msg(1)])
        first.outbox.enqueue([OutboxMessage("oee/s/a/l/status", b'"online"', qos=1, retain=True)])
    with Store.open(db_path, clock=clock) as again:
        rows = again.outbox.peek()
        assert [r.retain for r in rows] == [False, True]
        assert again.outbox.depth() == 2


def test_memory_store_works() -> None:
    with Store.open(":memory:") as mem:
        mem.append(part(1.0), [msg(1)])
        assert mem.outbox.depth() == 1


def test_full_disk_is_a_store_write_error_and_writes_resume(store: Store) -> None:
    from agent.store import StoreWriteError

    store.append(part(0.0), [msg(0)])
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own "disk full"
    big = [OutboxMessage("t", bytes(200_000))]
    with pytest.raises(StoreWriteError, match="full"):
        store.append(part(1.0), big)
    assert store.event_count() == 1 and store.outbox.depth() == 1
    store.db.execute("PRAGMA max_page_count = 1073741823")  # space is back
    store.append(part(2.0), big)
    assert store.event_count() == 2 and store.outbox.depth() == 2
    assert store.integrity_check() == "ok"
