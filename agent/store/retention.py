"""Bounded storage: roll raw events up into hourly tallies, then prune them in small batches.

`[store] parts_days`, `events_days` and `pictures_days` say how long raw part events,
state events (stops and their reasons) and defect pictures are kept; hourly rollups
(`hourly_rollups`) and shift results are kept for years (a few MB a year). Before an
hour's raw events may go, its OEE tallies per shift are rolled up with the same engine
as `oee` (`report` then answers for it from the rollups). The daemon calls `step()`
from its recorder's writer thread, never the pipeline's: each call does one small piece of
work (one hour rolled up, read on a connection of its own, or `PRUNE_BATCH` rows
deleted in one short transaction), so the writer waits at most one batch.

Free pages go back to the file system with `PRAGMA incremental_vacuum` (stores made
with `auto_vacuum = INCREMENTAL`, every store since m003) after a WAL checkpoint. A full
`VACUUM` is never scheduled: it rewrites the whole file (gigabytes on an SD card),
needs as much free space again, and blocks the writer meanwhile. An older store
(`auto_vacuum` off) keeps its free pages and reuses them for new rows, so it stops
growing once pruning keeps pace.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.clock import Clock, SystemClock
from agent.config import Config
from agent.oee import compute_oee
from agent.store.db import StoreError
from agent.store.store import Store, open_readonly

logger = logging.getLogger(__name__)

HOUR_S = 3600.0
#: Rows deleted per transaction (the agent's next commit waits at most this long).
PRUNE_BATCH = 500
#: Free pages handed back to the file system per step.
VACUUM_PAGES = 4000
#: Raw events younger than this are never pruned, not even to keep the store's bound.
RAW_KEEP_S = 86_400.0
#: Above this share of `max_mb` in live pages, the oldest raw hours go, whatever their
#: retention (rolled up first), until the store is back under it; the rest is WAL room.
PRUNE_AT = 0.9
#: Above this share the `storage:` alarm warns that pruning beyond retention is near.
WARN_AT = 0.8
#: Meta keys: hourly rollups exist up to here; raw events before here may be gone.
ROLLED_KEY = "rolled_up_until"
PRUNED_KEY = "pruned_before"

_TALLY = (
    "run_s",
    "small_stop_s",
    "breakdown_s",
    "setup_s",
    "unassigned_s",
    "planned_stop_s",
    "no_data_s",
    "total",
    "good",
)


def floor_hour(epoch: float) -> float:
    """The start of the clock hour (UTC) that holds `epoch`."""
    return math.floor(epoch / HOUR_S) * HOUR_S


def pruned_before(store: Store) -> datetime | None:
    """Raw events before this instant may have been pruned (None: nothing pruned yet)."""
    value = store.meta_get(PRUNED_KEY)
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else None


class Retention:
    """Keeps one store within `[store]`'s retention, a small step at a time."""

    def __init__(
        self,
        store: Store,
        config: Config,
        *,
        clock: Clock | None = None,
        free_bytes: Callable[[], int | None] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self._free_bytes = free_bytes or self._disk_free
        self._reader: Store | None = None
        self._deleted = 0  # rows deleted since the last reclaim of free pages
        self._over = False  # this step prunes beyond retention, to keep the bound
        self.counters = {
            "rolled_up_hours": 0,
            "pruned_rows": 0,
            "pictures_deleted": 0,
            "pruned_over_bound": 0,
        }

    # ---- the step ---------------------------------------------------------------------

    def step(self) -> bool:
        """Do one small piece of work; True when more is waiting (call again soon)."""
        keep = self.config.store
        now = self.clock.wall().timestamp()
        parts_cut = now - keep.parts_days * 86_400
        states_cut = now - keep.events_days * 86_400
        pictures_cut = now - keep.pictures_days * 86_400
        over = self._over_cut(now)
        self._over = over is not None and over > min(parts_cut, states_cut, pictures_cut)
        if over is not None:  # the oldest raw hour goes, whatever its retention
            parts_cut, states_cut = max(parts_cut, over), max(states_cut, over)
            pictures_cut = max(pictures_cut, over)
        horizon = floor_hour(max(parts_cut, states_cut))  # raw data is complete after it
        if self._roll_up(horizon):
            return True
        rolled = float(self.store.meta_get(ROLLED_KEY, -math.inf))
        if self._prune_parts(min(rolled, floor_hour(parts_cut))):
            return True
        if self._prune_states(min(rolled, floor_hour(states_cut))):
            return True
        if self._prune_pictures(pictures_cut):
            return True
        return bool(self._deleted) and self._reclaim()

    def _over_cut(self, now: float) -> float | None:
        """Over `PRUNE_AT` of the bound: the end of the oldest raw hour, else None.

        One hour at a time, oldest first, so only what must go is rolled up and
        pruned; never within the last `RAW_KEEP_S`.
        """
        if self.live_bytes() <= PRUNE_AT * self.config.store.max_mb * 2**20:
            return None
        oldest = self.store.connection.scalar(
            "SELECT min(epoch) FROM events WHERE type = 'part' AND epoch < ?",
            [now - RAW_KEEP_S],
        )
        keep_from = now - RAW_KEEP_S
        return keep_from if oldest is None else min(keep_from, floor_hour(oldest) + HOUR_S)

    def close(self) -> None:
        """Close the reading connection."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # ---- rolling up -------------------------------------------------------------------

    def _roll_up(self, horizon: float) -> bool:
        """Roll up the next hour before `horizon`; True when one was rolled up."""
        rolled = self.store.meta_get(ROLLED_KEY)
        if rolled is None:
            first = self.store.connection.scalar("SELECT min(epoch) FROM events")
            if first is None:
                return False
            rolled = floor_hour(first)
        start = float(rolled)
        if start + HOUR_S > horizon:
            return False
        lo, hi = (datetime.fromtimestamp(t, UTC) for t in (start, start + HOUR_S))
        events = self._reading().events(lo, hi, with_state_before=True, with_event_after=True)
        if any(lo <= e.ts < hi for e in events):
            rows = _rollup_rows(compute_oee(events, self.config, start=lo, end=hi))
            until = start + HOUR_S
        else:  # the agent was off: jump to the hour of the next event
            rows, after = [], [e.ts.timestamp() for e in events if e.ts >= hi]
            until = min(horizon, floor_hour(after[0])) if after else horizon
            until = max(until, start + HOUR_S)
        with self.store.connection.write():
            if rows:
                self.store.db.table("hourly_rollups").upsert_all(rows, pk=("hour", "shift", "date"))
            _meta(self.store, ROLLED_KEY, until)
        self.counters["rolled_up_hours"] += 1
        return True

    def _reading(self) -> Store:
        """A connection of its own for the long reads (WAL: the writer never waits)."""
        if self._reader is None:
            try:
                self._reader = open_readonly(self.store.path)
            except StoreError:
                return self.store  # an in-memory store (tests)
        return self._reader

    # ---- pruning ----------------------------------------------------------------------

    def _prune_parts(self, before: float) -> bool:
        picked = self.store.connection.read(
            "SELECT seq, id FROM events WHERE type = 'part' AND epoch < ? ORDER BY epoch LIMIT ?",
            [before, PRUNE_BATCH],
        )
        return self._delete(picked, [("part_images", "part_id")], before)

    def _prune_states(self, before: float) -> bool:
        # the state in effect at `before` stays: what follows it is measured from it
        picked = self.store.connection.read(
            "SELECT seq, id FROM events WHERE type = 'state' AND epoch < ? AND seq != coalesce("
            "(SELECT seq FROM events WHERE type = 'state' AND epoch < ? "
            "ORDER BY epoch DESC, seq DESC LIMIT 1), -1) ORDER BY epoch LIMIT ?",
            [before, before, PRUNE_BATCH],
        )
        self._unlink_stop_pictures([row[1] for row in picked])
        return self._delete(
            picked, [("stop_reasons", "stop_id"), ("stop_causes", "stop_id")], before
        )

    def _unlink_stop_pictures(self, stop_ids: list[str]) -> None:
        """The pictures kept with these stops' causes (`agent.causes`), before their rows go."""
        if not stop_ids:
            return
        marks = ", ".join("?" * len(stop_ids))
        rows = self.store.connection.read(
            f"SELECT picture FROM stop_causes WHERE picture IS NOT NULL AND stop_id IN ({marks})",  # noqa: S608
            stop_ids,
        )
        folder = Path(self.store.path).parent
        for (path,) in rows:
            (Path(path) if Path(path).is_absolute() else folder / path).unlink(missing_ok=True)

    def _delete(self, picked: list[Any], children: list[tuple[str, str]], before: float) -> bool:
        """Delete the picked events (and the rows referring to them) in one transaction."""
        if not picked:
            return False
        ids = [(row[1],) for row in picked]
        with self.store.connection.write() as conn:
            for child, key in children:
                conn.executemany(f"DELETE FROM {child} WHERE {key} = ?", ids)  # noqa: S608
            conn.executemany("DELETE FROM events WHERE seq = ?", [(row[0],) for row in picked])
            mark = self.store.meta_get(PRUNED_KEY)
            if mark is None or before > mark:
                _meta(self.store, PRUNED_KEY, before)
        self._deleted += len(picked)
        self.counters["pruned_rows"] += len(picked)
        if self._over:
            self.counters["pruned_over_bound"] += len(picked)
        return True

    def _prune_pictures(self, before: float) -> bool:
        """Defect pictures older than `before`: the files, then their rows."""
        rows = self.store.connection.read(
            "SELECT seq, path FROM part_images WHERE epoch < ? ORDER BY seq LIMIT ?",
            [before, PRUNE_BATCH],
        )
        folder = Path(self.store.path).parent
        for _, path in rows:
            file = Path(path) if Path(path).is_absolute() else folder / path
            file.unlink(missing_ok=True)
        files = _old_files(self.config.images_dir, before, PRUNE_BATCH)
        for file in files:
            file.unlink(missing_ok=True)
        self.counters["pictures_deleted"] += len(rows) + len(files)
        if rows:
            with self.store.connection.write() as conn:
                conn.executemany("DELETE FROM part_images WHERE seq = ?", [(r[0],) for r in rows])
            self._deleted += len(rows)
        return bool(rows or files)

    def _reclaim(self) -> bool:
        """Checkpoint the WAL, hand up to VACUUM_PAGES free pages back; True if more wait."""
        with self.store.connection.lock:
            conn = self.store.db.conn
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            more = False
            if conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:  # incremental
                # executescript runs the pragma to its end; execute() frees one page
                conn.executescript(f"PRAGMA incremental_vacuum({VACUUM_PAGES});")
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                more = conn.execute("PRAGMA freelist_count").fetchone()[0] > 0
        if not more:
            logger.info("store: pruned %d rows, free pages returned", self._deleted)
            self._deleted = 0
        return more

    # ---- the bound --------------------------------------------------------------------

    def size_bytes(self) -> int:
        """The store on disk: its file and WAL."""
        base = Path(self.store.path)
        files = (base, base.with_name(base.name + "-wal"))
        return sum(f.stat().st_size for f in files if f.is_file())

    def live_bytes(self) -> int:
        """The pages that hold data (free pages left out: they are reused or returned)."""
        with self.store.connection.lock:
            conn = self.store.db.conn
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            size = conn.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    def stats(self) -> dict[str, Any]:
        """For `stats`: the store's size on disk and rows pruned to keep its bound."""
        return {
            "store_mb": round(self.size_bytes() / 2**20, 1),
            "store_pruned_over_bound": self.counters["pruned_over_bound"],
        }

    def alarm(self) -> str | None:
        """Why the store cannot stay within its bound, before anything is lost (or None).

        Over the bound: the raw data of the last `RAW_KEEP_S` (or unsent messages) fill
        it. Near it: raw events are (or soon will be) pruned before their retention.
        """
        keep = self.config.store
        size_mb = self.size_bytes() / 2**20
        live_mb = self.live_bytes() / 2**20
        if size_mb > keep.max_mb and not self._prunable():
            return (
                f"storage: the store holds {size_mb:.0f} MB, over its {keep.max_mb} MB bound "
                "([store] max_mb) with only the last day's raw events left: raise max_mb"
            )
        if max(size_mb, live_mb) > WARN_AT * keep.max_mb:
            return (
                f"storage: the store holds {max(size_mb, live_mb):.0f} MB of its "
                f"{keep.max_mb} MB bound ([store] max_mb); above {PRUNE_AT * keep.max_mb:.0f} "
                "MB raw events go before their retention (figures stay in rollups): "
                "shorten parts_days or raise max_mb"
            )
        free = self._free_bytes()
        if free is not None and free / 2**20 < keep.min_free_mb:
            return (
                f"storage: {free / 2**20:.0f} MB free on the store's disk "
                f"(below [store] min_free_mb = {keep.min_free_mb})"
            )
        return None

    def _prunable(self) -> bool:
        """Whether raw events older than `RAW_KEEP_S` are left to prune for the bound."""
        cut = self.clock.wall().timestamp() - RAW_KEEP_S
        return (
            self.store.connection.scalar(
                "SELECT EXISTS (SELECT 1 FROM events WHERE epoch < ?)", [cut]
            )
            == 1
        )

    def _disk_free(self) -> int | None:
        try:
            return shutil.disk_usage(Path(self.store.path).resolve().parent).free
        except OSError:
            return None


def _meta(store: Store, key: str, value: float) -> None:
    """`store.meta_set` inside the caller's write transaction."""
    store.db.table("meta").upsert({"key": key, "value": json.dumps(value)}, pk="key")


def _rollup_rows(report: Any) -> list[dict[str, Any]]:
    rows = []
    for shift in report.shifts:
        for hour in shift.hourly:
            row = {name: getattr(hour.tally, name) for name in _TALLY}
            row.update(
                hour=hour.start,
                shift=shift.shift,
                date=shift.date.isoformat(),
                shift_start=shift.start,
                shift_end=shift.end,
                ideal_cycle_s=shift.ideal_cycle_s,
            )
            rows.append(row)
    return rows


def _old_files(folder: Path, before: float, limit: int) -> list[Path]:
    try:
        old = [p for p in folder.glob("*.png") if p.stat().st_mtime < before]
    except OSError:
        return []
    return sorted(old, key=lambda p: p.stat().st_mtime)[:limit]


__all__ = [
    "PRUNED_KEY",
    "PRUNE_AT",
    "RAW_KEEP_S",
    "ROLLED_KEY",
    "WARN_AT",
    "Retention",
    "floor_hour",
    "pruned_before",
]
