"""`oee-agent run`: the on-device daemon, wiring camera -> vision -> OEE -> store -> MQTT.

Threads, each named: the capture reader (inside the source, with its bounded frame
queue that drops the oldest frame when the pipeline falls behind), `pipeline` (frames
to events, through the `Recorder` into the store and its MQTT outbox), the publisher's
outbox thread, and the main thread, which supervises: it pings systemd's watchdog only
while the pipeline makes progress, publishes the `oee` snapshot and health `stats`,
closes finished shifts and retries a refusing disk. Everything waits with a timeout on
one stop event; `stop()` undoes `start()` in reverse.

Time (docs/deploy.md, "Time"): frames are stamped by the capture clock; event wall
times come from the `WallLabels` time line, which follows the monotonic clock. A wall
clock stepped forward (NTP after a boot without a real-time clock) moves the time line
forward and the jumped-over span is booked `no_data`; a wall clock stepped back is not
followed, so time never runs backwards or counts twice. Every step is logged, kept in
the store's meta and raised as an alarm on `stats`.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.capture import EndOfStream, Frame, Skipped, SourceDown, SourceUp
from agent.clock import Clock, SystemClock
from agent.config import Config, load_config
from agent.errors import UserError
from agent.events import StateEvent, new_id
from agent.health import board_health, clock_synchronised, cpu_seconds
from agent.inspection import Inspector, PartCrop, Verdict
from agent.inspection.loader import load_inspector
from agent.inspection.pictures import picture_saver
from agent.pipeline import LinePipeline
from agent.publish import open_stop_after
from agent.recorder import Recorder
from agent.resume import close_open_interval, last_state_event
from agent.shifts import ShiftBook
from agent.store import Store, StoreWriteError, open_readonly
from agent.systemd import Notifier
from agent.timeline import ClockStep, WallLabels

logger = logging.getLogger(__name__)

#: The pipeline must have made progress this recently for the watchdog to be pinged.
STALL_S = 20.0
#: Counted parts the pipeline may keep for `teach`; the daemon needs none of them.
KEEP_COUNTED = 64
#: The `oee` snapshot waits at least this many times as long as the last one took.
SNAPSHOT_BUDGET = 20.0
#: A pipeline that ran this long without a fault starts its backoff afresh.
HEALTHY_AFTER_S = 60.0


# ---- health ---------------------------------------------------------------------------------


class TimedInspector:
    """Wraps the line's inspector to measure inference time for `stats`."""

    def __init__(self, inner: Inspector) -> None:
        self.inner = inner
        self.enabled = inner.enabled
        self.calls = 0
        self.seconds = 0.0

    def inspect(self, views: Sequence[PartCrop]) -> Verdict:
        """The inner inspector's verdict, timed."""
        started = time.perf_counter()
        try:
            return self.inner.inspect(views)
        finally:
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


# ---- the daemon -----------------------------------------------------------------------------


class Agent:
    """One line's daemon. `run(stop)` blocks until `stop` is set or the footage ends."""

    def __init__(
        self,
        config: Config,
        *,
        config_text: str | None = None,
        clock: Clock | None = None,
        source_factory: Callable[[Config, Clock, Callable[[float], bool]], Any] | None = None,
        inspector: Inspector | None = None,
        notifier: Notifier | None = None,
        publish: bool = True,
        stall_s: float = STALL_S,
        stats_interval_s: float = 10.0,
        retry_s: float = 2.0,
    ) -> None:
        """Wire a line; nothing starts before `start()`."""
        config.require("camera", "vision")
        self.config = config
        self.config_text = config_text
        self.clock: Clock = clock or SystemClock()
        self.source_factory = source_factory or _open_camera
        self.inspector = inspector
        self.notifier = notifier or Notifier()
        self.publish = publish and config.mqtt.enabled
        self.stall_s = stall_s
        self.stats_interval_s = stats_interval_s
        self.retry_s = retry_s
        self.health = Health()
        self.labels = WallLabels(self.clock)
        self.store: Store | None = None
        #: A read-only connection for the supervisor's reads: in WAL mode they never
        #: hold up the pipeline's writes on the writer connection.
        self.reader: Store | None = None
        self.recorder: Recorder | None = None
        self.publisher: Any = None
        self.source: Any = None
        self.pipeline: LinePipeline | None = None
        self.timed: TimedInspector | None = None
        #: A configuration problem found while running (the pipeline cannot go on).
        self.fatal: UserError | None = None
        self.last_stats: dict[str, Any] | None = None
        self._halt = threading.Event()
        self._ended = False
        self._thread: threading.Thread | None = None
        self._heartbeat = self.clock.monotonic()
        self.shifts: ShiftBook | None = None
        self._window = _Window()
        self._published_faults = 0
        self._steps_seen = 0

    # ---- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        """Open the store, resume, start the feed, the camera and the pipeline thread."""
        self.health.started_mono = self.clock.monotonic()
        self.health.cpu_start = cpu_seconds()
        self._window = _Window(mono=self.health.started_mono, cpu=self.health.cpu_start)
        self.store = Store.open(self.config.store_path)
        if self.config_text is not None:
            try:
                self.store.save_config(self.config_text)
            except StoreWriteError as exc:
                logger.error("cannot keep the configuration in the store: %s", exc)
        last_state = last_state_event(self.store)
        if str(self.config.store_path) != ":memory:":
            self.reader = open_readonly(self.config.store_path)
        if self.publish:
            from agent.publish import MqttPublisher

            self.publisher = MqttPublisher(self.config, self.store, clock=self.clock)
            self.publisher.start()
        self.recorder = Recorder(
            self.store,
            self.config,
            on_written=self.publisher.notify if self.publisher else None,
            pictures=picture_saver(self.config),
            open_stop=open_stop_after(last_state, None) if last_state else None,
        )
        close_open_interval(self.store, self.recorder, self.labels)
        self.shifts = ShiftBook(
            self.config,
            self.reader or self.store,
            self.store,
            self.publisher.publish_oee if self.publisher is not None else None,
        )
        if clock_synchronised() is False:
            # Flag where unsynchronised labels begin; a later step is kept beside it.
            logger.warning("the system clock is not synchronised (no NTP answer since boot)")
            try:
                self.store.meta_set(
                    "clock_unsynchronised_from",
                    self.labels.label(self.clock.monotonic()).isoformat(),
                )
            except StoreWriteError:
                pass
        self.timed = TimedInspector(self.inspector or load_inspector(self.config))
        self.pipeline = self._new_pipeline()
        self.source = self.source_factory(self.config, self.clock, self._frame_wanted)
        self._heartbeat = self.clock.monotonic()
        self._thread = threading.Thread(target=self._pipeline_loop, name="pipeline", daemon=True)
        self._thread.start()
        self.notifier.ready(f"line {self.config.line.id} counting")
        logger.info("agent for line %s started", self.config.line.id)

    def run(self, stop: threading.Event) -> None:
        """Start, supervise until `stop` is set (or the footage ends), then stop.

        Raises:
            UserError: the configuration cannot work (raised after an orderly stop).
        """
        try:
            self.start()
            self._supervise(stop)
        finally:
            self.stop()
        if self.fatal is not None:
            raise self.fatal

    def stop(self) -> None:
        """Stop in reverse order: camera and pipeline, open interval, feed, store."""
        self.notifier.stopping()
        self._halt.set()
        if self.source is not None:
            self.source.close()
        hung = False
        if self._thread is not None:
            self._thread.join(5.0)
            hung = self._thread.is_alive()
            if hung:
                logger.warning("the pipeline thread did not stop in time")
        if hung and self.recorder is not None:
            # leave the stuck pipeline alone; close the interval from here
            now = self.clock.monotonic()
            self.recorder.emit(StateEvent(self.labels.label(now), "no_data", None, new_id(), now))
        elif self.pipeline is not None and self.recorder is not None:
            self.pipeline.close()
            last = self.pipeline.last
            if last is not None:
                # The agent stops observing: close the open run or stop interval (at
                # the recording's last frame when the footage ended).
                now = self.clock.monotonic()
                at = (last.mono, last.wall) if self._ended else (now, self.labels.label(now))
                self.pipeline.mark_no_data(*at)
        if self.recorder is not None and not self.recorder.flush():
            logger.error(
                "%d events could not be written before stopping: %s",
                self.recorder.pending,
                self.recorder.counters.alarm,
            )
        self._guarded(self._snapshot)  # the final `oee` with the interval closed; shifts
        self._guarded(self._stats)  # and the final health sample
        if self.publisher is not None:
            if not self.publisher.drain(timeout=3.0):
                logger.warning("stopping with %d messages in the outbox", self.store_depth())
            self.publisher.stop(timeout=3.0)
        if self.reader is not None:
            self.reader.close()
            self.reader = None
        if self.store is not None:
            self.store.close()
            self.store = None
        self.notifier.close()
        logger.info("agent for line %s stopped", self.config.line.id)

    def store_depth(self) -> int:
        """Outbox rows not yet acknowledged by the broker."""
        try:
            return self.store.outbox_depth() if self.store is not None else 0
        except Exception:  # noqa: BLE001 - only for a log line
            return -1

    # ---- the pipeline thread ------------------------------------------------------------

    def _pipeline_loop(self) -> None:
        backoff = 1.0
        while not self._halt.is_set():
            started = self.clock.monotonic()
            try:
                self._consume()
                return
            except EndOfStream:
                logger.info("the recording ended")
                self._ended = True
                self._halt.set()
                return
            except UserError as exc:  # a configuration the pipeline cannot work with
                logger.error("%s", exc)
                self.fatal = exc
                self._halt.set()
                return
            except Exception as exc:  # a stage fault: log, count, restart with backoff
                if self.clock.monotonic() - started > HEALTHY_AFTER_S:
                    backoff = 1.0
                self.health.faults += 1
                self.health.last_fault = f"{type(exc).__name__}: {exc}"
                logger.exception("pipeline fault, restarting it in %.0f s", backoff)
                if self._halt.wait(backoff):
                    return
                backoff = min(backoff * 2, 60.0)
                self._restart_pipeline()

    def _restart_pipeline(self) -> None:
        """A fresh pipeline after a fault; the gap is `no_data`, as after a camera outage."""
        assert self.recorder is not None and self.timed is not None
        old = self.pipeline
        if old is not None and old.last is not None:
            try:
                old.mark_no_data(old.last.mono, old.last.wall)
            except Exception:  # noqa: BLE001 - the faulty pipeline may fail again
                logger.warning("could not close the faulty pipeline's interval", exc_info=True)
        self.pipeline = self._new_pipeline()
        if old is not None:
            self.pipeline.continue_from(old)  # event times stay monotone across pipelines

    def _new_pipeline(self) -> LinePipeline:
        # the daemon needs no counted parts' crops: it keeps only the latest few
        return LinePipeline(self.config, self.timed, self.recorder, keep_counted=KEEP_COUNTED)

    def _frame_wanted(self, mono: float) -> bool:
        """Whether the pipeline will analyse a frame stamped `mono`.

        The camera's reader thread asks before converting a frame to pixels; it may ask
        before the pipeline has taken the frames ahead of it, but the pipeline's next
        analysis time only moves forward, so a stale answer errs towards converting.
        """
        pipeline = self.pipeline
        return pipeline is None or pipeline.due(mono)

    def _consume(self) -> None:
        assert self.pipeline is not None
        pipeline = self.pipeline
        while not self._halt.is_set():
            item = self.source.read(0.5)
            self._heartbeat = self.clock.monotonic()
            step = self.labels.check()
            if step is not None:
                self._clock_stepped(step, pipeline)
            if item is None:
                continue
            if isinstance(item, Frame | Skipped):
                label = self.labels.label(item.mono)
                frame = (
                    Frame(item.index, item.mono, label, item.image)
                    if isinstance(item, Frame)
                    else Skipped(item.index, item.mono, label)
                )
                began = time.perf_counter()
                pipeline.process(frame)
                self.health.process_s += time.perf_counter() - began
                self.health.frame_age_s += max(0.0, self._heartbeat - item.mono)
                self.health.frames += 1
            elif isinstance(item, SourceDown):
                # Frames after item.mono (a freeze's identical frames) were delivered
                # already; the pipeline backdates no_data to item.mono but never before
                # an event it emitted, so a stop seen in them ends where no_data begins.
                logger.warning("camera gave nothing since %s: %s", item.wall, item.why)
                self.health.camera_down = item.why
                self.health.camera_outages += 1
                pipeline.mark_no_data(item.mono, self.labels.label(item.mono))
            elif isinstance(item, SourceUp):
                logger.info("camera back")
                self.health.camera_down = None

    def _clock_stepped(self, step: ClockStep, pipeline: LinePipeline) -> None:
        logger.warning(
            "the wall clock was stepped by %+.1f s; event times %s",
            step.offset_s,
            "jump forward (the span is no_data)"
            if step.label_after > step.label_before
            else "keep following the monotonic clock",
        )
        if step.label_after > step.label_before and pipeline.first is not None:
            # The jumped-over span never happened here: book it no_data, so it counts
            # neither as running nor as stopped; the next frame starts afresh.
            pipeline.mark_no_data(step.mono, step.label_before)
        if self.store is not None:
            try:
                self.store.meta_set("clock_steps", [s.to_json() for s in self.labels.steps[-20:]])
            except StoreWriteError:
                pass

    # ---- supervision (main thread) -----------------------------------------------------

    def _supervise(self, stop: threading.Event) -> None:
        interval = self.notifier.watchdog_interval() or 5.0
        now = self.clock.monotonic()
        next_ping = next_oee = now
        next_stats = now + min(2.0, self.stats_interval_s)
        next_retry = now
        while not stop.wait(0.25):
            if self._halt.is_set():  # the recording ended, or a fatal configuration error
                return
            now = self.clock.monotonic()
            if now >= next_ping:
                next_ping = now + interval
                if now - self._heartbeat < self.stall_s:
                    self.notifier.ping()
                else:
                    logger.error("pipeline made no progress for %.0f s", now - self._heartbeat)
            if self.recorder is not None and self.recorder.pending and now >= next_retry:
                next_retry = now + self.retry_s
                self.recorder.flush()
            if now >= next_oee:
                began = time.perf_counter()
                self._guarded(self._snapshot)
                self.health.snapshot_s = time.perf_counter() - began
                # a long shift on a slow board: keep the snapshot under ~5 % of the time
                wait = max(
                    self.config.mqtt.oee_interval_s, SNAPSHOT_BUDGET * self.health.snapshot_s
                )
                next_oee = now + wait
            urgent = (
                self.health.faults != self._published_faults
                or len(self.labels.steps) != self._steps_seen
            )
            if now >= next_stats or urgent:
                next_stats = now + self.stats_interval_s
                self._guarded(self._stats)

    def _guarded(self, task: Callable[[], None]) -> None:
        """Run a periodic task; a failure is logged and counted, never fatal."""
        try:
            task()
        except Exception as exc:  # noqa: BLE001 - supervision must go on
            self.health.faults += 1
            self.health.last_fault = f"{task.__name__}: {type(exc).__name__}: {exc}"
            logger.exception("supervisor task %s failed", task.__name__)

    def _snapshot(self) -> None:
        """The current shift's OEE and closed shifts (`ShiftBook`), as of the time line."""
        if self.shifts is not None:
            self.shifts.update(self.labels.label(self.clock.monotonic()))

    def stats(self) -> dict[str, Any]:
        """Health now: rates over the interval since the previous call, counters, alarms."""
        now = self.clock.monotonic()
        win, h = self._window, self.health
        elapsed = max(1e-6, now - win.mono)
        cpu = cpu_seconds()
        camera: dict[str, Any] = {}
        if self.source is not None and hasattr(self.source, "stats"):
            camera = dict(self.source.stats())
        frames_in = int(camera.get("frames_in", h.frames))
        frames = h.frames - win.frames
        timed = self.timed
        inspections = (timed.calls - win.inspections) if timed else 0
        stats: dict[str, Any] = {
            "fps_in": round((frames_in - win.frames_in) / elapsed, 2),
            "fps": round(frames / elapsed, 2),
            "frames": h.frames,
            "dropped_frames": int(camera.get("frames_dropped", 0)),
            "process_ms": round(1000 * (h.process_s - win.process_s) / frames, 2)
            if frames
            else None,
            "frame_age_ms": round(1000 * (h.frame_age_s - win.frame_age_s) / frames, 1)
            if frames
            else None,
            "inference_ms": round(1000 * (timed.seconds - win.inspect_s) / inspections, 2)
            if timed and inspections
            else None,
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
            "parts_uncertain": self.pipeline.parts_uncertain if self.pipeline else 0,
        }
        if self.recorder is not None:
            counters = self.recorder.counters
            stats["queue_depths"] = {"recorder": self.recorder.pending}
            stats["events_written"] = counters.written
            stats["events_dropped"] = counters.dropped
        if self.publisher is not None:
            stats.setdefault("queue_depths", {})["outbox"] = self.publisher.outbox_depth
        stats.update(board_health(self.config.store_path))
        stats["alarms"] = self._alarms(stats)
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

    def _alarms(self, stats: dict[str, Any]) -> list[str]:
        alarms = []
        if self.recorder is not None and self.recorder.counters.alarm:
            alarms.append(f"store: {self.recorder.counters.alarm}")
        if self.health.camera_down:
            alarms.append(f"camera: {self.health.camera_down}")
        source_alarm = getattr(self.source, "alarm", None)
        note = source_alarm() if callable(source_alarm) else None
        if note:
            alarms.append(f"camera: {note}")
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

    def _stats(self) -> None:
        stats = self.stats()
        self.last_stats = stats
        self._published_faults = self.health.faults
        self._steps_seen = len(self.labels.steps)
        if self.publisher is not None:
            self.publisher.publish_stats(stats)
        if self.store is not None:
            try:
                self.store.record_stats(self.labels.label(self.clock.monotonic()), stats)
            except StoreWriteError:
                pass


# ---- defaults for the real board ----------------------------------------------------------


def _open_camera(config: Config, clock: Clock, wanted: Callable[[float], bool]) -> Any:
    from agent.capture.sources import open_source
    from agent.capture.view import ViewWatch

    assert config.camera is not None
    roi = config.vision.roi if config.vision is not None else None
    view = ViewWatch(roi)  # a dark, blurred or moved view is no_data, never a stop
    return open_source(config.camera, clock, base_dir=config.base_dir, wanted=wanted, view=view)


def run_command(args: argparse.Namespace) -> int:
    """`oee-agent run --config LINE.toml`: until SIGTERM/SIGINT."""
    config = load_config(args.config)
    config.require("camera", "vision")
    text = Path(args.config).read_text(encoding="utf-8")
    agent = Agent(config, config_text=text)
    stop = threading.Event()

    def _signal(signum: int, _frame: object) -> None:
        logger.info("%s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _signal)
    signal.signal(signal.SIGINT, _signal)
    agent.run(stop)
    return 0


__all__ = ["Agent", "TimedInspector", "run_command"]
