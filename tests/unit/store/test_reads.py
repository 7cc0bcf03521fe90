"""Reading back: events in time order with reasons, stops, parts, shifts, stats, meta."""

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from agent.events import PartEvent, StateEvent, new_id, read_event_log
from agent.store import OutboxMessage, Stop, Store, StoreError, open_readonly

from .conftest import T0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def state(seconds: float, name: str, reason: str | None = None) -> StateEvent:
    return StateEvent(at(seconds), name, reason, id=new_id(), mono=seconds)  # type: ignore[arg-type]


def part(seconds: float, good: bool = True, **kw) -> PartEvent:
    return PartEvent(at(seconds), good, id=new_id(), mono=seconds, **kw)


def test_events_round_trip_in_time_order(store: Store) -> None:
    later = part(5.0, good=False, defect="crack", score=4.25)
    earlier = state(0.0, "running")
    store.append(later)
    store.append(earlier)  # arrives late, stamped earlier
    store.append(part(5.0))  # same instant: insertion order breaks the tie
    events = store.events()
    assert [e.id for e in events[:2]] == [earlier.id, later.id]
    assert events[1] == later
    assert events[0] == earlier
    assert events[0].ts.tzinfo is not None


def test_wall_time_kept_in_utc_with_the_same_instant(store: Store) -> None:
    local = datetime(2026, 3, 2, 8, 0, tzinfo=timezone(timedelta(hours=2)))
    store.append(StateEvent(local, "running", id="a", mono=1.5))
    (event,) = store.events()
    assert event.ts == local and event.ts.utcoffset() == timedelta(0)
    row = store.db.execute("SELECT ts, epoch, mono FROM events").fetchone()
    assert row == ("2026-03-02T06:00:00+00:00", local.timestamp(), 1.5)
    with pytest.raises(ValueError, match="no UTC offset"):
        store.append(StateEvent(datetime(2026, 3, 2), "running"))


def test_events_period_and_state_before(store: Store) -> None:
    events = [state(0, "running"), part(10), state(20, "stopped"), part(30), state(40, "running")]
    for event in events:
        store.append(event)
    assert [e.id for e in store.events(at(10), at(30))] == [events[1].id, events[2].id]
    with_state = store.events(at(25), at(50), with_state_before=True)
    assert [e.id for e in with_state] == [events[2].id, events[3].id, events[4].id]


def test_stops_derived_with_reasons_latest_wins_and_open_stop(store: Store, clock) -> None:
    s1 = state(0, "running")
    s2 = state(100, "stopped", reason="jam")
    s3 = state(160, "running")
    s4 = state(300, "no_data")
    s5 = state(400, "stopped")
    for event in (s1, part(50), s2, s3, part(200), s4, s5):
        store.append(event)
    assert store.stops() == [
        Stop(s2.id, at(100), at(160), "stopped", "jam"),
        Stop(s4.id, at(300), at(400), "no_data", None),
        Stop(s5.id, at(400), None, "stopped", None),  # still open
    ]
    store.assign_reason(s2.id, "changeover")
    clock.advance(5)
    store.assign_reason(s2.id, "breakdown", source="mqtt")
    store.assign_reason(s5.id, "changeover")
    stops = store.stops()
    assert [s.reason for s in stops] == ["breakdown", None, "changeover"]
    assert stops[0].duration_s == 60.0 and stops[2].duration_s is None
    assert store.stop(s2.id).reason == "breakdown"
    assert store.stop(s5.id).end is None
    # the merged reason is what `oee` sees in the event stream and the export
    merged = {e.id: e for e in store.events()}
    assert merged[s2.id].reason == "breakdown"
    assert merged[s5.id].reason == "changeover"
    # unassign: back to unassigned, even though the event carried one
    store.assign_reason(s2.id, None)
    assert store.stop(s2.id).reason is None
    rows = store.db.execute("SELECT reason, source FROM stop_reasons ORDER BY seq").fetchall()
    assert rows[:2] == [("changeover", "tui"), ("breakdown", "mqtt")]


def test_assign_reason_unknown_stop(store: Store) -> None:
    running = state(0, "running")
    store.append(running)
    with pytest.raises(KeyError):
        store.assign_reason("no-such-id", "jam")
    with pytest.raises(KeyError):
        store.assign_reason(running.id or "", "jam")  # a running state is no stop
    with pytest.raises(KeyError):
        store.stop(running.id or "")


def test_stops_in_a_period(store: Store) -> None:
    events = [
        state(0, "stopped"),
        state(10, "running"),
        state(20, "stopped"),
        state(30, "running"),
        state(40, "stopped"),
        state(50, "running"),
    ]
    for event in events:
        store.append(event)
    # a stop overlapping the period's start and one overlapping its end are both in
    inside = store.stops(at(25), at(45))
    assert [s.id for s in inside] == [events[2].id, events[4].id]
    assert inside[1].end == at(50)  # closed by the event after the period
    assert [s.id for s in store.stops(at(11), at(19))] == []
    assert [s.id for s in store.stops(at(5), at(6))] == [events[0].id]


def test_parts_rejected_and_images(store: Store) -> None:
    good = part(1)
    bad = part(2, good=False, defect="scratch", score=7.5)
    bad2 = part(3, good=False, defect="crack", score=9.0)
    for event in (state(0, "running"), good, bad, bad2):
        store.append(event)
    store.set_part_image(bad.id or "", "defects/a.png")
    store.set_part_image(bad.id or "", Path("defects/b.png"))
    rows = store.parts()
    assert [(r.id, r.good, r.defect, r.score, r.image) for r in rows] == [
        (good.id, True, None, None, None),
        (bad.id, False, "scratch", 7.5, "defects/b.png"),
        (bad2.id, False, "crack", 9.0, None),
    ]
    assert rows[1].ts == at(2) and rows[1].mono == 2
    assert [r.id for r in store.parts(rejected_only=True)] == [bad.id, bad2.id]
    assert [r.id for r in store.parts(rejected_only=True, limit=1)] == [bad2.id]
    assert [r.id for r in store.parts(at(1.5), at(2.5))] == [bad.id]
    with pytest.raises(KeyError):
        store.set_part_image("nope", "x.png")


def test_shift_results_upsert(store: Store) -> None:
    a = {"shift": "A", "date": "2026-03-02", "oee": 0.5}
    store.save_shift_result(a, [OutboxMessage("oee/s/a/l/shift", b"{}", retain=True)])
    store.save_shift_result({"shift": "B", "date": "2026-03-02", "oee": 0.6})
    store.save_shift_result({**a, "oee": 0.7})
    assert [(r["shift"], r["oee"]) for r in store.shift_results()] == [("A", 0.7), ("B", 0.6)]
    assert store.outbox.depth() == 1
    with pytest.raises(ValueError, match="shift"):
        store.save_shift_result({"oee": 1})


def test_stats_bounded_and_latest(db_path: Path) -> None:
    assert Store.open(db_path).latest_stats() is None
    with Store.open(db_path, stats_keep=5) as store:
        for n in range(12):
            store.record_stats(at(n), {"fps": n})
        assert store.latest_stats() == {"fps": 11, "ts": at(11).isoformat()}
        assert store.db.execute("SELECT count(*) FROM stats").fetchone()[0] == 5


def test_meta_and_config(store: Store) -> None:
    assert store.meta_get("bdSeq") is None
    assert store.meta_get("bdSeq", 0) == 0
    store.meta_set("bdSeq", 3)
    store.meta_set("bdSeq", 4)
    store.meta_set("clock", {"synced": True})
    assert store.meta_get("bdSeq") == 4
    assert store.meta_get("clock") == {"synced": True}
    assert store.config_text() is None
    store.save_config('[line]\nid = "x"\n')
    assert store.config_text() == '[line]\nid = "x"\n'


def test_export_events_is_a_valid_event_log(store: Store, tmp_path: Path) -> None:
    stop = state(10, "stopped", reason="jam")
    for event in (part(12), state(0, "running"), stop, state(20, "running"), part(21, False)):
        store.append(event)
    store.assign_reason(stop.id or "", "changeover")
    out = tmp_path / "events.jsonl"
    assert store.export_events(out) == 5
    read = read_event_log(out)
    assert read == store.events()
    assert [e.ts for e in read] == sorted(e.ts for e in read)
    assert read[1].reason == "changeover"  # type: ignore[union-attr]


def test_an_uncertain_count_survives_the_store_and_its_export(store: Store, tmp_path: Path) -> None:
    guess, seen = part(1.0, uncertain=True), part(2.0)
    store.append(state(0, "running"))
    store.append(guess)
    store.append(seen)
    assert [p.uncertain for p in store.parts()] == [True, False]
    assert store.events()[1:] == [guess, seen]
    out = tmp_path / "events.jsonl"
    store.export_events(out)
    lines = out.read_text().splitlines()
    assert '"uncertain": true' in lines[1] and "uncertain" not in lines[2]
    assert read_event_log(out)[1:] == [guess, seen]


def test_reader_sees_rows_while_the_writer_writes(store: Store, db_path: Path) -> None:
    store.append(state(0, "running"))
    reader = open_readonly(db_path)
    assert len(reader.events()) == 1
    done = threading.Event()
    seen: list[int] = []

    def read_loop() -> None:
        while not done.is_set():
            seen.append(len(reader.parts()))

    thread = threading.Thread(target=read_loop, name="reader")
    thread.start()
    try:
        for n in range(200):
            store.append(part(1 + n), [OutboxMessage("t", b"x")])
    finally:
        done.set()
        thread.join(timeout=30)
    assert seen == sorted(seen)  # a reader never sees rows disappear or half a batch
    assert len(reader.parts()) == 200
    assert reader.outbox.depth() == 200
    assert reader.stops() == []
    with pytest.raises(StoreError, match="read-only"):
        reader.append(part(999))
    with pytest.raises(StoreError, match="read-only"):
        reader.outbox.ack([1])
    reader.close()


def test_reader_refuses_writes_even_through_raw_sql(store: Store, db_path: Path) -> None:
    reader = open_readonly(db_path)
    with pytest.raises(Exception, match="readonly|read-only|query_only"):
        reader.db.conn.execute("DELETE FROM events")
    reader.close()


def test_integrity_check_ok(store: Store) -> None:
    store.append(state(0, "running"))
    assert store.integrity_check() == "ok"


def test_two_writers_take_turns_without_locked_errors(store: Store, db_path: Path) -> None:
    """The TUI assigning reasons while the agent appends: the busy timeout queues them."""
    stops = [state(n * 10, "stopped") for n in range(50)]
    store.append_many((s, ()) for s in stops)
    errors: list[BaseException] = []

    def assign() -> None:
        try:
            with Store.open(db_path) as tui:
                for s in stops:
                    tui.assign_reason(s.id or "", "changeover")
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=assign, name="tui-writer")
    thread.start()
    for n in range(150):
        store.append(part(1000 + n), [OutboxMessage("t", b"x")])
    thread.join(timeout=60)
    assert not errors
    assert [s.reason for s in store.stops()] == ["changeover"] * 50
    assert len(store.parts()) == 150


def test_reason_assignments_and_current_reasons(store: Store) -> None:
    running, stop, other = state(0, "running"), state(10, "stopped", "jam"), state(20, "no_data")
    for event in (running, stop, other):
        store.append(event)
    assert store.reason_assignments() == [] and store.last_reason_seq() == 0
    store.assign_reason(other.id or "", "changeover")
    store.assign_reason(stop.id or "", "breakdown", source="mqtt")
    first, second = store.reason_assignments()
    assert (first[1], second[1]) == (other.id, stop.id) and first[0] < second[0]
    assert store.reason_assignments(first[0]) == [second]
    assert store.last_reason_seq() == second[0]
    ids = [running.id or "", stop.id or "", other.id or "", "unknown"]
    # only stops have a reason: a running state and an unknown id are left out
    assert store.current_reasons(ids) == {stop.id: "breakdown", other.id: "changeover"}


def test_enqueue_built_reads_and_queues_in_one_transaction(store: Store) -> None:
    stop = state(0, "stopped")
    store.append(stop)
    seen: list[bool] = []

    def build() -> list[OutboxMessage]:
        seen.append(store.db.conn.in_transaction)
        end = store.stop(stop.id or "").end
        return [OutboxMessage("t/stop", str(end).encode())]

    (seq,) = store.outbox.enqueue_built(build)
    assert seen == [True]
    assert [(r.seq, r.payload) for r in store.outbox.peek()] == [(seq, b"None")]
    with pytest.raises(ValueError, match="qos"):
        store.outbox.enqueue_built(lambda: [OutboxMessage("t", b"x", qos=3)])
    assert store.outbox.depth() == 1  # the bad batch left nothing behind
