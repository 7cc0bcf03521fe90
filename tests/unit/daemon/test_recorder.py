"""The recorder: event + MQTT messages in one transaction; memory while the disk refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent import recorder as recorder_module
from agent.config import parse_config
from agent.events import PartEvent, StateEvent, new_id
from agent.recorder import Recorder
from agent.store import Store

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)
CONFIG = parse_config(
    {"line": {"id": "rec-1", "ideal_cycle_s": 1.0}, "store": {"commit_interval_s": 0}}
)


def part(i: int) -> PartEvent:
    return PartEvent(T0 + timedelta(seconds=i), True, id=f"p{i:05d}")


def full(store: Store) -> None:
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")


def room(store: Store) -> None:
    store.db.execute("PRAGMA max_page_count = 1073741823")


def test_events_are_written_with_their_messages(tmp_path: Path) -> None:
    woken: list[int] = []
    with Store.open(tmp_path / "line.db") as store:
        recorder = Recorder(store, CONFIG, on_written=lambda: woken.append(1))
        recorder.emit(StateEvent(T0, "running", None, new_id()))
        recorder.emit(part(1))
        recorder.emit(StateEvent(T0 + timedelta(seconds=2), "stopped", None, "s1"))
        assert recorder.pending == 0 and recorder.counters.written == 3
        topics = [row.topic.rsplit("/", 1)[1] for row in store.outbox.peek(100)]
        assert topics == ["state", "part", "state", "stop"]
        assert len(woken) == 3


def test_a_refusing_disk_keeps_events_in_order_and_costs_one_attempt_per_retry(
    tmp_path: Path,
) -> None:
    with Store.open(tmp_path / "line.db") as store:
        recorder = Recorder(store, CONFIG)
        recorder.emit(StateEvent(T0, "running", None, "r0"))
        full(store)
        i = 0
        while not recorder.failing:
            i += 1
            recorder.emit(part(i))
            assert i < 10_000, "the page limit never bit"
        for _ in range(50):
            i += 1
            recorder.emit(part(i))
        assert recorder.counters.write_failures == 1  # no attempt per event while failing
        assert recorder.pending >= 51
        assert recorder.counters.alarm and "store write failed" in recorder.counters.alarm
        assert not recorder.flush()
        assert recorder.counters.write_failures == 2
        room(store)
        assert recorder.flush()
        assert recorder.counters.alarm is None and recorder.pending == 0
        ids = [e.id for e in store.events()]
        assert ids == ["r0"] + [f"p{k:05d}" for k in range(1, i + 1)]
        assert store.outbox.depth() == len(ids)


def test_past_the_bound_the_oldest_waiting_events_are_dropped_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder_module, "MAX_PENDING", 5)
    with Store.open(tmp_path / "line.db") as store:
        recorder = Recorder(store, CONFIG)
        full(store)
        i = 0
        while not recorder.failing:
            i += 1
            recorder.emit(part(i))
        for _ in range(8):
            i += 1
            recorder.emit(part(i))
        assert recorder.pending == 5
        room(store)
        assert recorder.flush()
        stored = [e.id for e in store.events()]
        assert stored[-5:] == [f"p{k:05d}" for k in range(i - 4, i + 1)]
        assert recorder.counters.dropped == i - len(stored)
        assert recorder.counters.dropped >= 3


def test_a_read_only_store_is_survived_like_a_full_one(tmp_path: Path) -> None:
    """SQLITE_READONLY, as after an SD card remounted read-only (here: query_only)."""
    with Store.open(tmp_path / "line.db") as store:
        recorder = Recorder(store, CONFIG)
        recorder.emit(StateEvent(T0, "running", None, "r0"))
        store.db.execute("PRAGMA query_only = 1")
        for i in range(1, 6):
            recorder.emit(part(i))
        assert recorder.failing and recorder.pending == 5
        assert "readonly" in (recorder.counters.alarm or "")
        store.db.execute("PRAGMA query_only = 0")
        assert recorder.flush()
        assert [e.id for e in store.events()] == ["r0"] + [f"p{k:05d}" for k in range(1, 6)]


def test_an_event_the_store_rejects_is_dropped_not_a_blockage(tmp_path: Path) -> None:
    with Store.open(tmp_path / "line.db") as store:
        recorder = Recorder(store, CONFIG)
        naive = PartEvent(datetime(2026, 3, 2, 6, 0, 1), True, id="naive")  # no UTC offset
        recorder.emit(naive)
        recorder.emit(part(2))
        assert recorder.pending == 0 and recorder.counters.dropped == 1
        assert [e.id for e in store.events()] == ["p00002"]
