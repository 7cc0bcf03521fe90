"""StoreSource: the line as the screens see it, from a real store, read-only."""

from __future__ import annotations

import sqlite3
import tomllib
from datetime import timedelta

import pytest

from agent.config import parse_config
from agent.errors import UserError
from agent.events import PartEvent, StateEvent
from agent.oee import compute_oee
from agent.store import Store, open_readonly
from agent.store.cli import build_report
from tui.sample import SAMPLE_CONFIG, SAMPLE_NOW, sample_clock
from tui.sources.store import StoreSource


def test_snapshot_agrees_with_the_oee_engine(sample_folder):
    db = sample_folder / "line.db"
    snap = StoreSource(db, sample_clock()).read()
    reader = open_readonly(db)
    try:
        start = SAMPLE_NOW.replace(hour=6, minute=0)
        events = reader.events(start, SAMPLE_NOW)
        stops = reader.stops(start, SAMPLE_NOW)
    finally:
        reader.close()
    config = parse_config(tomllib.loads(SAMPLE_CONFIG))
    expected = compute_oee(
        events, config, start=start, end=start.replace(hour=14), observed_until=SAMPLE_NOW
    ).to_json()["shifts"][0]
    assert snap.shift == expected
    assert [s.id for s in snap.stops] == [s.id for s in stops]
    assert (snap.state, snap.since, snap.shift_name) == ("stopped", stops[-1].start, "A")
    assert snap.stale is None
    assert [b.actual for b in snap.hourly] == [h["actual"] for h in expected["hourly"]]
    assert sum(b.actual for b in snap.hourly) == expected["total"]
    assert all(not p.good for p in snap.rejects)
    # every shift of the store as `oee-agent report --db` computes it, newest first,
    # the shift in progress (measured up to now) on top
    assert [(s["date"], s["shift"]) for s in snap.shifts] == [
        ("2026-03-03", "A"),
        ("2026-03-02", "B"),
        ("2026-03-02", "A"),
    ]
    reader = open_readonly(db)
    try:
        report = build_report(reader, config, None, None)["shifts"]
    finally:
        reader.close()
    assert list(snap.shifts[1:]) == list(reversed(report))[1:]
    assert snap.shifts[0] == expected
    assert [r.code for r in snap.reasons][:2] == ["changeover", "jam"]


def test_a_stopped_line_is_not_stale(sample_folder):
    later = sample_clock(SAMPLE_NOW.replace(hour=13))
    snap = StoreSource(sample_folder / "line.db", later, stale_after_s=60).read()
    # still stopped since 08:31: a stopped line sends nothing, it is not stale
    assert snap.state == "stopped" and snap.stale is None


def test_a_quiet_running_line_is_stale(tmp_path):
    db = tmp_path / "line.db"
    with Store.open(db) as store:
        store.save_config(SAMPLE_CONFIG)
        store.append(StateEvent(SAMPLE_NOW.replace(hour=8, minute=0), "running", id="r"))
        store.append(PartEvent(SAMPLE_NOW.replace(hour=8, minute=1), id="p"))
    snap = StoreSource(db, sample_clock(), stale_after_s=60).read()
    assert snap.state == "running" and snap.stale == "no news for 2340 s"


def test_a_new_shift_of_a_running_agent_is_shown_as_such(line_db):
    evening = SAMPLE_NOW.replace(hour=15)
    with Store.open(line_db) as store:  # the agent is up: its health sample is recent
        store.record_stats(evening - timedelta(seconds=30), {"fps": 15.0})
    snap = StoreSource(line_db, sample_clock(evening)).read()
    assert snap.live and snap.shift_name == "B" and snap.shift is None
    assert snap.stale == "no events in this shift yet"
    assert snap.state == "stopped"  # the state in effect carries over


def test_a_store_nobody_writes_shows_its_latest_shift_and_steps_back(sample_folder):
    """A store opened months later: its last shift, saying when the data ends."""
    months_later = sample_clock(SAMPLE_NOW.replace(month=11))
    source = StoreSource(sample_folder / "line.db", months_later)
    snap = source.read()
    assert not snap.live and snap.state == "no_data"
    assert snap.shift_name == "A" and snap.shift is not None
    assert snap.shift["date"] == "2026-03-03" and snap.shift["total"] == 1640
    reader = open_readonly(sample_folder / "line.db")
    try:
        assert snap.since == reader.last_event_at()  # the end of the data
    finally:
        reader.close()
    assert (snap.shift_index, snap.shift_count) == (0, 3)
    assert snap.stale is None
    assert [(s["date"], s["shift"]) for s in snap.shifts][0] == ("2026-03-03", "A")
    older = source.read(shift_back=2)
    assert (older.shift["date"], older.shift_name, older.shift_index) == ("2026-03-02", "A", 2)
    assert older.shift["total"] == 5952
    assert all(older.shift_start <= s.start < older.shift_end for s in older.stops)
    assert source.read(shift_back=9).shift_index == 2  # the oldest is as far as it goes


def test_missing_store_is_one_sentence(tmp_path):
    with pytest.raises(UserError, match="no such store"):
        StoreSource(tmp_path / "none.db", sample_clock())


def test_not_a_store(tmp_path):
    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE x (a)").connection.commit()
    source = StoreSource(path, sample_clock())
    with pytest.raises(UserError, match="not an oee-agent store|not a line store"):
        source.open()


def test_assignment_is_written_and_read_back(line_db):
    source = StoreSource(line_db, sample_clock())
    assert source.assign_reason("t-stop-0708", "no-material") == "saved to line.db"
    snap = source.read()
    assert {s.id: s.reason for s in snap.stops}["t-stop-0708"] == "no-material"
    with pytest.raises(KeyError):
        source.assign_reason("no-such-stop", "jam")


def test_assigning_never_upgrades_an_older_agents_store(line_db, monkeypatch):
    """A newer TUI (one more migration) writes nothing into an older agent's store."""
    from agent.store import schema

    before = line_db.read_bytes()
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, ("m999_newer", lambda db: None)])
    source = StoreSource(line_db, sample_clock())
    with pytest.raises(UserError, match="older oee-agent.*m999_newer pending"):
        source.assign_reason("t-stop-0708", "no-material")
    raw = sqlite3.connect(line_db)
    try:
        assert "m999_newer" not in [r[0] for r in raw.execute("SELECT name FROM _migrations")]
        assert not raw.execute(
            "SELECT 1 FROM stop_reasons WHERE stop_id = 't-stop-0708' AND reason = 'no-material'"
        ).fetchone()
    finally:
        raw.close()
    assert line_db.read_bytes() == before


def test_a_store_without_its_configuration_needs_config(tmp_path):
    db = tmp_path / "line.db"
    with Store.open(db) as store:
        store.append(StateEvent(SAMPLE_NOW.replace(hour=7), "running", id="r"))
    with pytest.raises(UserError, match="give --config LINE.toml"):
        StoreSource(db, sample_clock()).read()
    config = tmp_path / "line.toml"
    config.write_text(SAMPLE_CONFIG)
    snap = StoreSource(db, sample_clock(), config_path=config).read()
    assert snap.line == "press-3" and snap.state == "running"


def test_polls_read_what_is_new_and_notice_what_changed_earlier(tmp_path):
    db = tmp_path / "line.db"
    t7 = SAMPLE_NOW.replace(hour=7, minute=0)
    with Store.open(db) as store:
        store.save_config(SAMPLE_CONFIG)
        store.append(StateEvent(t7, "running", id="r"))
        store.append(PartEvent(t7.replace(minute=1), id="p1"))
    source = StoreSource(db, sample_clock())
    assert source.read().shift["total"] == 1
    with Store.open(db) as store:  # the agent goes on writing
        store.append(PartEvent(t7.replace(minute=2), id="p2"))
        store.append(StateEvent(t7.replace(minute=3), "stopped", id="s1"))
    snap = source.read()
    assert snap.shift["total"] == 2 and snap.state == "stopped"
    with Store.open(db) as store:  # a late event, earlier than what was read
        store.append(PartEvent(t7.replace(second=30), good=False, id="p0"))
        store.assign_reason("s1", "jam")
    snap = source.read()
    assert (snap.shift["total"], snap.shift["good"]) == (3, 2)
    assert snap.reason == "jam" and snap.shift["losses"]["breakdown"] > 0


def test_the_camera_view_alarm_reaches_the_banner(line_db):
    alarm = "camera: view dark (31% of the taught brightness)"
    with Store.open(line_db) as store:
        store.record_stats(SAMPLE_NOW - timedelta(seconds=5), {"alarms": [alarm]})
    assert StoreSource(line_db, sample_clock()).read().alarms == (alarm,)
