"""The daemon's health sample: rates since the last sample, counters and alarms (`stats`).

`HealthStats` keeps the pipeline thread's counters (`Health`) and turns them, with the
camera's, the inspector's, the recorder's and the feed's, into the `stats` object the
supervisor publishes and stores every `stats_interval_s`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.clock import Clock
from agent.health import board_health, cpu_seconds
from agent.inspect_queue import InspectQueue
from agent.inspection import Inspector, PartCrop, Verdict
from agent.recorder import Recorder
from agent.timeline import WallLabels

#: A queue whose oldest item waited this long raises an alarm (disk or model stalled).
QUEUE_ALARM_S = 10.0


class TimedInspector:
    """Wraps the line's inspector to measure inference time for `stats`."""

    def __init__(self, inner: Inspector) -> None:
        self.inner = inner
        self.enabled = inner.enabled
        self.patterned_belt = inner.patterned_belt
        self.calls = 0
        self.seconds = 0.0

    def inspect(self, views: Sequence[PartCrop]) -> Verdict:
        """The inner inspector's verdict, timed (not a part it did not judge)."""
        started = time.perf_counter()
        judged = True
        try:
            verdict = self.inner.inspect(views)
            judged = verdict.inspected
            return verdict
        finally:
            if judged:
                self.calls += 1
                self.seconds += time.perf_counter() - started


@dataclass
class Health:
    """Counters the supervisor publishes on `stats` and keeps in the store."""

    frames: int = 0
    process_s: float = 0.0
    frame_age_s: float = 0.0
    started_mono: float = 0.0
    faults: int = 0
    last_fault: str | None = None
    camera_down: str | None = None
    camera_outages: int = 0
    cpu_start: float = 0.0
    snapshot_s: float = 0.0


@dataclass
class _Window:
    """Counter values at the previous stats sample, for rates over the interval."""

    mono: float = 0.0
    cpu: float = 0.0
    frames: int = 0
    frames_in: int = 0
    process_s: float = 0.0
    frame_age_s: float = 0.0
    inspections: int = 0
    inspect_s: float = 0.0


@dataclass
class Sources:
    """Where a sample's readings come from besides the counters (each may be absent)."""

    camera: Any = None
    timed: TimedInspector | None = None
    parts_uncertain: int = 0
    recorder: Recorder | None = None
    inspection: InspectQueue | None = None
    outbox_depth: int | None = None


class HealthStats:
    """Health counters, and `sample()` of them as the `stats` object."""

    def __init__(self, clock: Clock, labels: WallLabels, store_path: Path) -> None:
        """Counters at zero; `begin()` when the daemon starts."""
        self.clock = clock
        self.labels = labels
        self.store_path = store_path
        self.health = Health()
        self._window = _Window()

    def begin(self) -> None:
        """Uptime and CPU time count from now."""
        self.health.started_mono = self.clock.monotonic()
        self.health.cpu_start = cpu_seconds()
        self._window = _Window(mono=self.health.started_mono, cpu=self.health.cpu_start)

    def sample(self, sources: Sources) -> dict[str, Any]:
        """Health now: rates over the interval since the previous sample, counters, alarms."""
        now = self.clock.monotonic()
        win, h, timed = self._window, self.health, sources.timed
        elapsed = max(1e-6, now - win.mono)
        cpu = cpu_seconds()
        camera = dict(sources.camera.stats()) if hasattr(sources.camera, "stats") else {}
        frames_in = int(camera.get("frames_in", h.frames))
        frames = h.frames - win.frames
        inspections = (timed.calls - win.inspections) if timed else 0
        stats: dict[str, Any] = {
            "fps_in": round((frames_in - win.frames_in) / elapsed, 2),
            "fps": round(frames / elapsed, 2),
            "frames": h.frames,
            "dropped_frames": int(camera.get("frames_dropped", 0)),
            "process_ms": _per(h.process_s - win.process_s, frames, 2),
            "frame_age_ms": _per(h.frame_age_s - win.frame_age_s, frames, 1),
            "inference_ms": _per(timed.seconds - win.inspect_s, inspections, 2) if timed else None,
            "inspections": timed.calls if timed else 0,
            "cpu_percent": round(100 * (cpu - win.cpu) / elapsed, 1),
            "faults": h.faults,
            "last_fault": h.last_fault,
            "clock_steps": len(self.labels.steps),
            "clock_ahead_s": round(self.labels.ahead_s, 3),
            "camera": camera,
            "uptime_s": round(now - h.started_mono, 1),
            "snapshot_ms": round(1000 * h.snapshot_s, 1),
            # parts counted from touching parts that could not be told apart, since start
            "parts_uncertain": sources.parts_uncertain,
        }
        stats.update(_queues(sources))
        stats.update(board_health(self.store_path))
        stats["alarms"] = self.alarms(stats, sources.recorder)
        source_alarm = getattr(sources.camera, "alarm", None)  # e.g. damaged frames
        note = source_alarm() if callable(source_alarm) else None
        if note:
            stats["alarms"].append(f"camera: {note}")
        self._window = _Window(
            now,
            cpu,
            h.frames,
            frames_in,
            h.process_s,
            h.frame_age_s,
            timed.calls if timed else 0,
            timed.seconds if timed else 0.0,
        )
        return stats

    def alarms(self, stats: dict[str, Any], recorder: Recorder | None) -> list[str]:
        """What a person should look at, one short line each."""
        alarms = []
        if recorder is not None and recorder.counters.alarm:
            alarms.append(f"store: {recorder.counters.alarm}")
        ages = stats.get("queue_ages_s", {})
        if ages.get("recorder", 0.0) >= QUEUE_ALARM_S:
            alarms.append(f"store: events waiting {ages['recorder']:.0f} s for the disk")
        if ages.get("inspection", 0.0) >= QUEUE_ALARM_S:
            alarms.append(f"inspection: parts waiting {ages['inspection']:.0f} s for the model")
        if self.health.camera_down:
            alarms.append(f"camera: {self.health.camera_down}")
        if self.labels.steps:
            last = self.labels.steps[-1]
            alarms.append(f"clock: stepped by {last.offset_s:+.0f} s")
        elif stats.get("clock_synchronised") is False:
            alarms.append("clock: not synchronised (no NTP answer since boot)")
        if self.health.faults:
            alarms.append(f"pipeline: {self.health.faults} faults, last {self.health.last_fault}")
        free = stats.get("disk_free_mb")
        if isinstance(free, int | float) and free < 100:
            alarms.append(f"disk: {free} MB free")
        throttling = stats.get("throttled")
        if isinstance(throttling, dict):
            now_flags = [k for k in ("under_voltage", "throttled", "freq_capped") if throttling[k]]
            if now_flags:
                alarms.append("board: " + ", ".join(now_flags))
        return alarms


def _queues(sources: Sources) -> dict[str, Any]:
    """The recorder's and inspection's queues: depths, oldest ages, what they gave up."""
    out: dict[str, Any] = {"queue_depths": {}, "queue_ages_s": {}}
    recorder, inspection = sources.recorder, sources.inspection
    if recorder is not None:
        out["queue_depths"]["recorder"] = recorder.pending
        out["queue_ages_s"]["recorder"] = round(recorder.oldest_s, 1)
        out["events_written"] = recorder.counters.written
        out["events_dropped"] = recorder.counters.dropped
    if inspection is not None:
        out["queue_depths"]["inspection"] = inspection.waiting
        out["queue_ages_s"]["inspection"] = round(inspection.oldest_s, 1)
        # the most parts that waited for the model at once since the last sample
        out["inspection_backlog"] = inspection.take_peak()
        out["parts_not_inspected"] = inspection.counters.not_inspected
        out["events_dropped"] = out.get("events_dropped", 0) + inspection.counters.dropped
    if sources.outbox_depth is not None:
        out["queue_depths"]["outbox"] = sources.outbox_depth
    return out


def _per(seconds: float, count: int, digits: int) -> float | None:
    """Milliseconds per item, or None when there was none."""
    return round(1000 * seconds / count, digits) if count else None


__all__ = ["Health", "HealthStats", "Sources", "TimedInspector"]
