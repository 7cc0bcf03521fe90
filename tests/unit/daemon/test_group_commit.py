"""Group commits: events wait at most `[store] commit_interval_s`, messages never go first.

A SIGKILL of the writer (a forked child with its own connection) loses only events
that were never committed: every event the recorder reported written is in the file,
and each stored event has its messages and no message is without its event.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.clock import ManualClock
from agent.config import parse_config
from agent.events import PartEvent, new_id
from agent.recorder import COMMIT_BATCH, Recorder
from agent.store import Store
from tests.conftest import killed_writer_output

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)
INTERVAL_S = 0.3


def config(interval_s: float = INTERVAL_S):
    return parse_config(
        {"line": {"id": "grp-1", "ideal_cycle_s": 1.0}, "store": {"commit_interval_s": interval_s}}
    )


def part(i: int) -> PartEvent:
    return PartEvent(T0 + timedelta(seconds=i), True, id=new_id(), mono=float(i))


def test_events_wait_for_their_interval_and_their_messages_with_them(tmp_path: Path) -> None:
    clock = ManualClock(start=T0)
    with Store.open(tmp_path / "line.db", clock=clock) as store:
        recorder = Recorder(store, config(5.0), clock=clock)
        recorder.emit(part(1))
        clock.advance(4.9)
        recorder.emit(part(2))
        recorder.flush_if_due()
        # not committed yet: neither the events nor their messages can be seen or sent
        assert recorder.pending == 2 and store.event_count() == 0
        assert store.outbox.peek() == []
        clock.advance(0.1)
        recorder.flush_if_due()
        assert recorder.pending == 0 and store.event_count() == 2
        assert len(store.outbox.peek()) == 2


def test_a_full_batch_commits_before_its_interval(tmp_path: Path) -> None:
    clock = ManualClock(start=T0)
    with Store.open(tmp_path / "line.db", clock=clock) as store:
        recorder = Recorder(store, config(10.0), clock=clock)
        for i in range(COMMIT_BATCH):
            recorder.emit(part(i))
        assert recorder.pending == 0 and store.event_count() == COMMIT_BATCH


def test_acks_are_deleted_with_the_next_commit_and_hidden_meanwhile(tmp_path: Path) -> None:
    clock = ManualClock(start=T0)
    with Store.open(tmp_path / "line.db", clock=clock) as store:
        recorder = Recorder(store, config(0.0), clock=clock)
        recorder.emit(part(1))
        rows = store.outbox.peek()
        store.outbox.ack_later(row.seq for row in rows)
        assert store.outbox.depth() == 0 and store.outbox.peek() == []
        assert store.db.execute("SELECT count(*) FROM outbox").fetchone()[0] == len(rows)
        recorder.emit(part(2))  # its commit deletes the acknowledged rows too
        assert store.db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 1
        assert store.outbox.depth() == 1


def _writer(path: Path, out_fd: int) -> None:  # the child: never returns
    store = Store.open(path)
    emitted: list[str] = []
    reported = 0

    def written() -> None:  # every event emitted so far is committed now
        nonlocal reported
        os.write(out_fd, "".join(f"C {i}\n" for i in emitted[reported:]).encode())
        reported = len(emitted)

    recorder = Recorder(store, config(), on_written=written)
    n = 0
    while True:
        n += 1
        event = part(n)
        assert event.id is not None
        emitted.append(event.id)
        os.write(out_fd, f"E {event.id}\n".encode())
        recorder.emit(event)
        recorder.flush_if_due()
        time.sleep(0.005)


def _run_and_kill(path: Path, delay: float) -> tuple[list[str], set[str]]:
    # from its first commit: the kills fall at different points of the commit interval
    data = killed_writer_output(lambda fd: _writer(path, fd), delay, after="C ")
    lines = [line.split(" ") for line in data.splitlines() if len(line) == 34]
    return [i for kind, i in lines if kind == "E"], {i for kind, i in lines if kind == "C"}


def test_sigkill_loses_only_what_was_never_committed(tmp_path: Path) -> None:
    path = tmp_path / "line.db"
    for delay in (0.5, 0.9, 1.3):
        emitted, committed = _run_and_kill(path, delay)
        with Store.open(path) as store:
            assert store.integrity_check() == "ok"
            stored = {row[0] for row in store.db.execute("SELECT id FROM events")}
            assert committed, "the child never committed"
            assert committed <= stored, "a committed event was lost"
            lost = [i for i in emitted if i not in stored]
            # what is lost is the tail that waited for its commit, nothing before it
            assert lost == emitted[len(emitted) - len(lost) :]
            assert len(lost) < COMMIT_BATCH
            orphans = store.db.execute(
                "SELECT count(*) FROM outbox o WHERE NOT EXISTS "
                "(SELECT 1 FROM events e WHERE instr(o.payload, e.id) > 0)"
            ).fetchone()[0]
            assert orphans == 0, "a message without its event"
