"""FleetState: folding the contract's topic tree into fleet rows and line snapshots."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from agent.events import PartEvent, StateEvent
from agent.publish.topics import (
    OpenStop,
    Topics,
    oee_payload,
    part_payload,
    state_payload,
    stop_payload,
)
from tui.model import worst_first
from tui.sources.mqtt import FleetState

T0 = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)


def put(state: FleetState, topic: str, payload: object, mono: float = 0.0) -> bool:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return state.apply(topic, data, mono)


def shift(oee: float) -> dict:
    return {
        "shift": "A",
        "date": "2026-03-03",
        "oee": oee,
        "availability": 0.9,
        "performance": 0.9,
        "quality": 0.99,
        "run_s": 3600.0,
        "total": 3240,
        "good": 3200,
        "planned_s": 4000.0,
        "losses": {},
    }


def test_rows_from_the_published_payloads():
    state = FleetState(stale_after_s=60)
    t = Topics("oee/plant-a/stamping/press-3")
    assert state.apply(t.status, b"online", 0)
    put(state, t.state, state_payload(StateEvent(T0, "stopped", "jam", id="s1")))
    put(state, t.oee, oee_payload(shift(0.61), T0))
    (row,) = state.rows(mono=1.0)
    assert (row.site, row.area, row.line) == ("plant-a", "stamping", "press-3")
    assert row.state == "stopped" and row.since == T0 and row.oee == 0.61
    assert row.online is True and not row.stale


def test_stale_and_offline():
    state = FleetState(stale_after_s=60)
    put(state, "oee/s/a/l1/oee", shift(0.9), mono=0.0)
    put(state, "oee/s/a/l2/oee", shift(0.5), mono=100.0)
    state.apply("oee/s/a/l3/status", b"offline", 100.0)
    rows = {r.line: r for r in state.rows(mono=100.0)}
    assert rows["l1"].stale and not rows["l2"].stale
    assert rows["l3"].online is False
    order = [r.line for r in worst_first(rows.values())]
    # offline and stale first (no OEE at all before a known one), then the rest by OEE
    assert order == ["l3", "l1", "l2"]


def test_commands_and_garbage_are_not_news():
    state = FleetState()
    assert not put(state, "oee/s/a/l/cmd/reason", {"stop_id": "x", "reason": "jam"})
    assert not state.apply("oee/s/a/l/state", b"{not json", 0)
    assert not state.apply("other/s/a/l/state", b"{}", 0)
    assert not state.apply("oee/s/a/l", b"{}", 0)
    assert state.lines == {} and state.rejected_messages == 1


def test_parts_are_deduplicated_and_rejects_kept():
    state = FleetState()
    bad = part_payload(PartEvent(T0, good=False, defect="dent", score=0.8, id="p1"))
    for _ in range(2):  # QoS 1 may deliver twice
        put(state, "oee/s/a/l/part", bad)
    put(state, "oee/s/a/l/part", part_payload(PartEvent(T0, good=True, id="p2")))
    feed = state.lines["s/a/l"]
    assert len(feed.part_times) == 2 and [p.id for p in feed.rejects] == ["p1"]


def test_stop_start_and_end_make_one_stop_and_a_line_snapshot():
    state = FleetState()
    stop = OpenStop("s1", T0, "stopped", None)
    put(state, "oee/s/a/l/stop", stop_payload(stop, None))
    put(state, "oee/s/a/l/stop", stop_payload(stop, T0.replace(minute=5)))
    put(state, "oee/s/a/l/oee", {**shift(0.7), "start": "2026-03-03T06:00:00+00:00"})
    snap = state.line_snapshot("s/a/l", now=T0.replace(hour=9), mono=0.0)
    assert snap is not None
    assert [(s.id, s.seconds(snap.now)) for s in snap.stops] == [("s1", 300.0)]
    assert snap.shift["oee"] == 0.7
    assert snap.ideal_cycle_s == pytest.approx(0.9 * 3600 / 3240)
    assert [b.stopped_s for b in snap.hourly] == [0.0, 0.0, 300.0]
    assert state.line_snapshot("s/a/none", T0, 0.0) is None


def test_command_results_become_messages():
    state = FleetState()
    put(
        state,
        "oee/s/a/l/cmd/result",
        {"ok": False, "stop_id": "s9", "reason": "x", "error": "unknown reason code 'x'"},
    )
    assert state.take_results() == ["s/a/l: x for stop s9 rejected (unknown reason code 'x')"]
    assert state.take_results() == []


def test_a_late_subscriber_learns_the_open_stop_from_the_retained_state():
    state = FleetState()
    put(state, "oee/s/a/l/state", state_payload(StateEvent(T0, "stopped", id="s7")))
    assert [(s.id, s.end) for s in state.lines["s/a/l"].stops.values()] == [("s7", None)]
    later = T0.replace(minute=9)
    put(state, "oee/s/a/l/state", state_payload(StateEvent(later, "running", id="r8")))
    assert [(s.id, s.end) for s in state.lines["s/a/l"].stops.values()] == [("s7", later)]


def test_the_oee_objects_own_hours_are_used_when_it_has_them():
    state = FleetState()
    hourly = [{"hour": "2026-03-03T08:00:00+00:00", "target": 900, "actual": 612, "stopped_s": 240}]
    put(state, "oee/s/a/l/oee", {**shift(0.7), "hourly": hourly})
    snap = state.line_snapshot("s/a/l", now=T0.replace(hour=9), mono=0.0)
    assert [(b.target, b.actual, b.stopped_s) for b in snap.hourly] == [(900, 612, 240.0)]


def test_rows_carry_the_times_a_rollup_sums():
    state = FleetState()
    assert put(state, "oee/s/a/l/oee", shift(0.8019))
    [row] = state.rows(0.0)
    t = row.times
    assert (t.planned_s, t.run_s, t.total, t.good) == (4000.0, 3600.0, 3240, 3200)
    assert t.net_s == 3600.0 * 0.9  # ideal cycle x total
    assert t.fully_s == 3600.0 * 0.9 * 0.99  # ideal cycle x good


def test_the_agents_alarms_come_with_its_stats():
    state = FleetState(stale_after_s=60)
    t = Topics("oee/s/a/l")
    put(state, t.state, state_payload(StateEvent(T0, "no_data", None, id="s1")))
    alarm = "camera: view moved (45% of the taught edges in place: bumped, turned or zoomed)"
    put(state, t.stats, {"v": 1, "ts": T0.isoformat(), "alarms": [alarm]})
    snap = state.line_snapshot("s/a/l", now=T0, mono=0.0)
    assert snap is not None and snap.alarms == (alarm,)
    put(state, t.stats, {"v": 1, "ts": T0.isoformat(), "alarms": []})  # the view is back
    snap = state.line_snapshot("s/a/l", now=T0, mono=0.0)
    assert snap is not None and snap.alarms == ()


def test_the_agents_storage_alarm_reaches_the_line_snapshot():
    state = FleetState()
    t = Topics("oee/s/a/l")
    alarm = "storage: 180 MB free on the store's disk (below [store] min_free_mb = 500)"
    put(state, t.state, state_payload(StateEvent(T0, "running", id="r1")))
    put(state, t.stats, {"ts": T0.isoformat(), "alarms": ["camera: no frames", alarm]})
    snap = state.line_snapshot("s/a/l", T0, 1.0)
    assert snap is not None and snap.alarms == (alarm,)
    put(state, t.stats, {"ts": T0.isoformat(), "alarms": []})  # the alarm cleared
    assert state.line_snapshot("s/a/l", T0, 1.0).alarms == ()  # type: ignore[union-attr]
