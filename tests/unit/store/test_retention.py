"""Bounded storage on real SQLite files: roll up, prune in batches, report from rollups."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.clock import ManualClock
from agent.config import parse_config
from agent.events import PartEvent, StateEvent, new_id
from agent.store import Store, schema
from agent.store.cli import build_report
from agent.store.retention import PRUNE_BATCH, Retention, pruned_before

START = datetime(2026, 3, 2, 0, tzinfo=UTC)
DAYS = 3
PART_EVERY_S = 30


def config(tmp_path: Path, **store):
    return parse_config(
        {
            "line": {"id": "ret-1", "ideal_cycle_s": 15.0},
            "store": {"path": str(tmp_path / "line.db"), **store},
        }
    )


def fill(store: Store) -> None:
    """DAYS of a line: a part every 30 s, a 10-minute stop every 2 h, every 9th rejected."""
    items: list[tuple[StateEvent | PartEvent, tuple[()]]] = []
    for s in range(0, DAYS * 86_400, PART_EVERY_S):
        at = START + timedelta(seconds=s)
        if s % 7200 == 0:
            items.append((StateEvent(at, "running", None, new_id(), float(s)), ()))
        if s % 7200 == 3600:
            items.append((StateEvent(at, "stopped", None, new_id(), float(s)), ()))
        if 3600 <= s % 7200 < 4200:
            continue
        n = s // PART_EVERY_S
        items.append((PartEvent(at, n % 9 != 0, None, 0.1, new_id(), float(s)), ()))
    store.append_many(items)


def run_out(retention: Retention, limit: int = 10_000) -> int:
    steps = 0
    while retention.step():
        steps += 1
        assert steps < limit, "retention never finished"
    return steps


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=START + timedelta(days=DAYS, hours=1))


def test_prunes_old_raw_events_and_report_answers_from_rollups(tmp_path, clock) -> None:
    cfg = config(tmp_path, parts_days=1, events_days=2)
    with Store.open(cfg.store_path, clock=clock) as store:
        store.save_config("")  # not read here
        fill(store)
        whole = build_report(store, cfg, None, None)["total"]
        early = build_report(store, cfg, START, START + timedelta(days=1))["total"]
        retention = Retention(store, cfg, clock=clock)
        run_out(retention)
        retention.close()
        cut = pruned_before(store)
        assert cut is not None and cut == START + timedelta(days=DAYS - 1, hours=1)
        oldest_part = store.db.execute("SELECT min(epoch) FROM events WHERE type = 'part'")
        assert oldest_part.fetchone()[0] >= cut.timestamp()
        # state events are kept longer, and the one in effect at their cut stays
        states = store.db.execute("SELECT min(epoch) FROM events WHERE type = 'state'")
        assert states.fetchone()[0] < (START + timedelta(days=DAYS - 2, hours=1)).timestamp()
        assert store.integrity_check() == "ok"
        after = build_report(store, cfg, None, None)["total"]
        early_after = build_report(store, cfg, START, START + timedelta(days=1))["total"]
    for key in ("total", "good", "run_s", "planned_s", "oee", "availability", "performance"):
        assert after[key] == pytest.approx(whole[key], abs=0.2), key
        assert early_after[key] == pytest.approx(early[key], abs=0.2), key
    assert any("hourly rollups" in w for w in after["warnings"])
    assert early_after["total"] > 0


def test_each_step_deletes_one_small_batch(tmp_path, clock) -> None:
    cfg = config(tmp_path, parts_days=1, events_days=1)
    with Store.open(cfg.store_path, clock=clock) as store:
        fill(store)
        retention = Retention(store, cfg, clock=clock)
        while retention.counters["pruned_rows"] == 0:
            assert retention.step()
        assert retention.counters["pruned_rows"] == PRUNE_BATCH
        count = store.event_count()
        assert retention.step()
        assert count - store.event_count() <= PRUNE_BATCH
        retention.close()


def test_free_pages_go_back_to_the_file_system(tmp_path, clock) -> None:
    cfg = config(tmp_path, parts_days=1, events_days=1)
    with Store.open(cfg.store_path, clock=clock) as store:
        fill(store)
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        before = cfg.store_path.stat().st_size
        retention = Retention(store, cfg, clock=clock)
        steps = run_out(retention)
        retention.close()
        assert store.db.execute("PRAGMA freelist_count").fetchone()[0] < 100
        # a step hands back up to VACUUM_PAGES pages, not one (the daemon steps once a second)
        rolled, rows = retention.counters["rolled_up_hours"], retention.counters["pruned_rows"]
        assert steps <= rolled + rows / PRUNE_BATCH + 5, steps
    after = cfg.store_path.stat().st_size
    assert after < before * 0.6, (before, after)


def test_a_store_over_its_bound_or_a_full_disk_alarms(tmp_path, clock) -> None:
    cfg = config(tmp_path, max_mb=16, min_free_mb=100)
    with Store.open(cfg.store_path, clock=clock) as store:
        free = {"bytes": 10 * 2**30}
        retention = Retention(store, cfg, clock=clock, free_bytes=lambda: free["bytes"])
        assert retention.alarm() is None
        free["bytes"] = 50 * 2**20
        assert "50 MB free" in (retention.alarm() or "")
        free["bytes"] = 10 * 2**30
        store.db.execute("CREATE TABLE ballast (b BLOB)")
        store.db.execute("INSERT INTO ballast VALUES (zeroblob(17 * 1048576))")
        store.db.conn.commit()
        assert "over its 16 MB bound" in (retention.alarm() or "")


def test_a_store_made_before_m003_opens_and_prunes(tmp_path, clock, monkeypatch) -> None:
    cfg = config(tmp_path, parts_days=1, events_days=1)
    # m008 too: this test writes its old store through today's Store
    kept = ("m001_initial", "m002_part_uncertain", "m008_part_inspected")
    old = [(n, f) for n, f in schema.MIGRATIONS if n in kept]
    with monkeypatch.context() as patch:
        patch.setattr(schema, "MIGRATIONS", old)
        patch.setattr("agent.store.db.PAGE_SIZE", 4096)
        raw = sqlite3.connect(cfg.store_path)
        raw.execute("PRAGMA auto_vacuum = NONE")
        raw.close()
        with Store.open(cfg.store_path, clock=clock) as store:
            fill(store)
    with Store.open(cfg.store_path, clock=clock) as store:
        assert "m003_hourly_rollups" in store.migrations()
        assert store.db.execute("PRAGMA page_size").fetchone()[0] == 4096
        retention = Retention(store, cfg, clock=clock)
        run_out(retention)
        retention.close()
        assert pruned_before(store) is not None
        assert store.db.execute("SELECT count(*) FROM hourly_rollups").fetchone()[0] > 0
        assert store.integrity_check() == "ok"


def test_pruned_stops_take_their_reasons_causes_and_pictures_with_them(tmp_path, clock) -> None:
    from agent.causes import Cause
    from agent.causes.scene import SceneDescription, ViewCheck
    from agent.store.causes import save_stop_cause

    cfg = config(tmp_path, parts_days=1, events_days=1)
    picture = tmp_path / "stops" / "old.jpg"
    picture.parent.mkdir()
    picture.write_bytes(b"jpeg")
    scene = SceneDescription(False, 0.0, "empty", None, False, 0, 0, 0, None, ViewCheck())
    with Store.open(cfg.store_path, clock=clock) as store:
        fill(store)
        old = store.stops(START, START + timedelta(hours=6))[0].id
        store.assign_reason(old, "jam")
        save_stop_cause(
            store, old, Cause("starved", 0.9), Cause("starved", 0.9), scene, None, picture
        )
        retention = Retention(store, cfg, clock=clock)
        run_out(retention)
        retention.close()
        gone = [
            store.db.execute(f"SELECT count(*) FROM {table} WHERE stop_id = ?", [old]).fetchone()[0]
            for table in ("stop_reasons", "stop_causes")
        ]
        assert gone == [0, 0] and store.integrity_check() == "ok"
    assert not picture.exists()


def test_a_store_over_its_bound_prunes_the_oldest_raw_hours_and_keeps_its_figures(
    tmp_path, clock
) -> None:
    """4 days at a part every 3 s (~22 MB) in a 16 MB bound, with 90 days of retention."""
    from agent.store.retention import PRUNE_AT, RAW_KEEP_S, WARN_AT

    cfg = config(tmp_path, max_mb=16)
    now = clock.wall().timestamp()
    with Store.open(cfg.store_path, clock=clock) as store:
        items: list[tuple[StateEvent | PartEvent, tuple[()]]] = [
            (StateEvent(START, "running", None, new_id(), 0.0), ())
        ]
        for s in range(0, (DAYS + 1) * 86_400 - 3600, 3):
            at = START + timedelta(seconds=s)
            items.append((PartEvent(at, s % 27 != 0, None, 0.1, new_id(), float(s)), ()))
        store.append_many(items)
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        recent = "SELECT count(*) FROM events WHERE epoch >= ?"
        last_day = store.db.execute(recent, [now - RAW_KEEP_S]).fetchone()[0]
        whole = build_report(store, cfg, None, None)["total"]
        retention = Retention(store, cfg, clock=clock)
        bound = 16 * 2**20
        assert retention.live_bytes() > bound * PRUNE_AT
        assert "before their retention" in (retention.alarm() or "")  # before anything goes
        run_out(retention)
        retention.close()
        assert retention.live_bytes() <= bound * PRUNE_AT
        assert cfg.store_path.stat().st_size <= bound  # free pages returned; the WAL apart
        pruned = retention.counters["pruned_over_bound"]
        assert pruned == retention.counters["pruned_rows"] > 10_000
        assert retention.stats()["store_pruned_over_bound"] == pruned
        # the oldest went first (what is left has no gap), and nothing of the last day
        left, oldest = store.db.execute(
            "SELECT count(*), min(epoch) FROM events WHERE type = 'part'"
        ).fetchone()
        times = [e.ts.timestamp() for e, _ in items if isinstance(e, PartEvent)]
        assert left == sum(1 for t in times if t >= oldest)
        assert pruned_before(store) is not None
        assert store.db.execute(recent, [now - RAW_KEEP_S]).fetchone()[0] == last_day
        after = build_report(store, cfg, None, None)["total"]
        assert (after["total"], after["good"]) == (whole["total"], whole["good"])
        assert after["oee"] == pytest.approx(whole["oee"], abs=1e-4)
        assert store.integrity_check() == "ok"
        assert WARN_AT < PRUNE_AT
