"""SIGKILL at random moments: the file stays sound and no acknowledged event is lost.

The writer is a forked child (it inherits the imports, so each round is quick) with its
own connection. It reports an event's id on a pipe only after `append` returned, i.e.
after the commit; the parent kills it at a random moment, then checks the file.
"""

import os
import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.events import PartEvent, StateEvent, new_id
from agent.store import OutboxMessage, Store
from tests.conftest import killed_writer_output

ROUNDS = 20


def _writer(path: Path, out_fd: int, seed: int) -> None:  # runs in the child, never returns
    rng = random.Random(seed)
    store = Store.open(path)
    base = datetime(2026, 3, 2, 6, tzinfo=UTC)
    n = 0
    while True:
        n += 1
        ts = base + timedelta(seconds=seed * 10_000 + n)
        if rng.random() < 0.1:
            event: StateEvent | PartEvent = StateEvent(ts, "stopped", id=new_id(), mono=n)
        else:
            event = PartEvent(ts, rng.random() < 0.9, id=new_id(), mono=n, score=rng.random())
        if rng.random() < 0.2:
            second = PartEvent(ts, id=new_id())
            store.append_many([(event, _messages(event, rng)), (second, _messages(second, rng))])
        else:
            store.append(event, _messages(event, rng))
        os.write(out_fd, f"{event.id}\n".encode())


def _messages(event: StateEvent | PartEvent, rng: random.Random) -> list[OutboxMessage]:
    """Two messages naming their event, so the check can pair them with it."""
    noise = os.urandom(rng.randrange(10, 400))
    return [OutboxMessage(f"t/{event.id}", noise), OutboxMessage(f"t/{event.id}", noise)]


def _run_and_kill(path: Path, seed: int, delay: float) -> list[str]:
    data = killed_writer_output(lambda fd: _writer(path, fd, seed), delay)
    return [line for line in data.split("\n") if len(line) == 32]


def test_sigkill_at_random_moments_loses_no_committed_event(tmp_path: Path) -> None:
    path = tmp_path / "var" / "line.db"
    rng = random.Random(1234)
    acknowledged: set[str] = set()
    for round_ in range(ROUNDS):
        # the first rounds may die while the file and its schema are being created
        delay = rng.uniform(0.0, 0.02) if round_ < 3 else rng.uniform(0.02, 0.25)
        acknowledged.update(_run_and_kill(path, seed=round_, delay=delay))
        with Store.open(path) as store:
            assert store.integrity_check() == "ok"
            ids = {row[0] for row in store.db.execute("SELECT id FROM events")}
            missing = acknowledged - ids
            assert not missing, f"round {round_}: {len(missing)} committed events lost"
            # every event has both its messages and no message is without its event
            per_event = dict(
                store.db.execute("SELECT substr(topic, 3), count(*) FROM outbox GROUP BY topic")
            )
            assert per_event == dict.fromkeys(ids, 2), f"round {round_}: outbox out of step"
    assert len(acknowledged) > ROUNDS  # the children really got to write
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    raw.close()
