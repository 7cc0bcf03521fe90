"""`oee-agent run`: the on-device daemon, wiring camera -> vision -> OEE -> store -> MQTT.

Threads, each named: the capture reader (inside the source, with its bounded frame
queue that drops the oldest frame when the pipeline falls behind), `pipeline`
(`agent.pipeline_thread`: frames to events; it never waits for a model or a disk),
`inspect` (`agent.inspect_queue`: judges counted parts, in order, a bounded backlog),
`recorder` (`agent.recorder`: events into the store and its MQTT outbox, queued in
memory while the disk is slow), the publisher's outbox thread, and the main thread,
which supervises (`Agent`): it pings systemd's watchdog only while the pipeline makes
progress and inspection is not stuck, publishes the `oee` snapshot and health `stats`
(`agent.health_stats`), notes until when the line was observed and closes finished
shifts.
Everything waits with a timeout on one stop event; the stages are opened through
`agent.runtime.Runtime`, and `stop()` closes them in reverse.

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.clock import Clock, SystemClock
from agent.config import Config, RunConfig, load_config
from agent.errors import UserError
from agent.events import StateEvent, new_id
from agent.health import clock_synchronised
from agent.health_stats import Health, HealthStats, Sources, TimedInspector
from agent.inspect_queue import InspectQueue
from agent.inspection import Inspector
from agent.pipeline import LinePipeline
from agent.pipeline_thread import PipelineThread
from agent.recorder import Recorder
from agent.resume import close_open_interval, last_state_event, resumed_open_stop
from agent.runtime import Runtime
from agent.shifts import ShiftBook
from agent.store import Store, StoreWriteError
from agent.store.retention import Retention
from agent.systemd import Notifier
from agent.timeline import WallLabels

logger = logging.getLogger(__name__)

#: The pipeline must have made progress this recently for the watchdog to be pinged.
STALL_S = 20.0
#: The `oee` snapshot waits at least this many times as long as the last one took.
SNAPSHOT_BUDGET = 20.0
#: Seconds between two retention steps while there is nothing to prune (1 s while there is).
RETENTION_EVERY_S = 60.0
#: How long stopping waits for the parts still queued for inspection to be judged.
INSPECT_DRAIN_S = 5.0
#: How long stopping waits for the recorder's thread to finish the write in progress.
WRITER_STOP_S = 10.0


class Agent:
    """One line's daemon, its supervisor. `run(stop)` blocks until `stop` or the footage ends.

    The stages are opened through a `Runtime` (closed in reverse by `stop()`); frames
    run on the `PipelineThread`; `HealthStats` samples health; `ShiftBook` keeps the
    shift's OEE. The supervisor (this class, on the calling thread) starts and stops
    them and runs the periodic tasks in between.
    """

    def __init__(
        self,
        config: Config,
        *,
        config_text: str | None = None,
        clock: Clock | None = None,
        source_factory: Callable[[RunConfig, Clock, Callable[[float], bool]], Any] | None = None,
        inspector: Inspector | None = None,
        notifier: Notifier | None = None,
        publish: bool = True,
        stall_s: float = STALL_S,
        stats_interval_s: float = 10.0,
        retry_s: float = 2.0,
    ) -> None:
        """Wire a line; nothing starts before `start()`.

        Raises:
            ConfigError: the configuration lacks `[camera]` or `[vision]`.
        """
        self.config = RunConfig.of(config)
        self.config_text = config_text
        self.clock: Clock = clock or SystemClock()
        self.source_factory = source_factory
        self.inspector = inspector
        self.notifier = notifier or Notifier()
        self.publish = publish and config.mqtt.enabled
        self.stall_s = stall_s
        self.stats_interval_s = stats_interval_s
        self.retry_s = retry_s
        self.labels = WallLabels(self.clock)
        self.vitals = HealthStats(self.clock, self.labels, self.config.store_path)
        self.runtime = Runtime(self.config)
        self.store: Store | None = None
        #: A read-only connection for the supervisor's reads: in WAL mode they never
        #: hold up the pipeline's writes on the writer connection.
        self.reader: Store | None = None
        self.recorder: Recorder | None = None
        #: Rolls up and prunes old events (`[store]` retention), from the supervisor.
        self.retention: Retention | None = None
        self._next_prune = 0.0
        #: The store's figures and storage alarm, measured after each sample is written.
        self._storage: tuple[dict[str, Any], str | None] | None = None
        self.publisher: Any = None
        self.source: Any = None
        self.worker: PipelineThread | None = None
        self.timed: TimedInspector | None = None
        #: Judges counted parts off the pipeline thread, in order (`agent.inspect_queue`).
        self.inspect_queue: InspectQueue | None = None
        self.shifts: ShiftBook | None = None
        self.last_stats: dict[str, Any] | None = None
        self._published_faults = 0
        self._steps_seen = 0

    @property
    def health(self) -> Health:
        """The counters the pipeline thread keeps for `stats`."""
        return self.vitals.health

    @property
    def pipeline(self) -> LinePipeline | None:
        """The pipeline the thread runs now (a fresh one after a fault)."""
        return self.worker.pipeline if self.worker is not None else None

    @property
    def fatal(self) -> UserError | None:
        """A configuration problem found while running (the pipeline cannot go on)."""
        return self.worker.fatal if self.worker is not None else None

    # ---- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        """Open the store, resume, start the feed, the camera and the pipeline thread."""
        self.vitals.begin()
        runtime = self.runtime
        self.store = runtime.open_store()
        self._keep_config()
        last_state = last_state_event(self.store)
        self.reader = runtime.open_reader()
        if self.publish:
            self.publisher = runtime.start_publisher(self.store, self.clock)
        open_stop = resumed_open_stop(self.store, last_state)
        self.recorder = runtime.recorder(self.store, self.publisher, open_stop, self.clock)
        close_open_interval(self.store, self.recorder, self.labels)
        self.recorder.flush()  # stored before the shift book reads the past shifts
        self.recorder.start_writer(self.retry_s)  # from here no write on the frame path
        retention = Retention(self.store, self.config, clock=self.clock)
        self.retention = runtime.keep(retention, retention.close)
        self._measure_storage()
        publish_oee = self.publisher.publish_oee if self.publisher is not None else None
        self.shifts = ShiftBook(self.config, self.reader or self.store, self.store, publish_oee)
        self._flag_unsynchronised()
        self.timed = TimedInspector(self.inspector or runtime.inspector())
        self.inspect_queue = InspectQueue(self.timed, self.recorder, clock=self.clock)
        self.inspect_queue.start()
        self.worker = PipelineThread(
            self._new_pipeline, self.clock, self.labels, self.health, self._keep_clock_steps
        )
        if self.source_factory is None:
            self.source = runtime.open_camera(self.clock, self.worker.due)
        else:
            source = self.source_factory(self.config, self.clock, self.worker.due)
            self.source = runtime.keep(source, source.close)
        self.worker.start(self.source)
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
        """Stop in order, then close every stage in reverse (`Runtime`).

        Camera and pipeline first, then the open interval, the parts still waiting
        for inspection, the events still waiting for the disk, the last samples, the
        feed drained (each bounded).
        """
        self.notifier.stopping()
        if self.worker is not None:
            self.worker.halt.set()
        if self.source is not None:
            self.source.close()  # unblocks the pipeline thread's read
        if self.worker is not None:
            self._close_interval(stopped=self.worker.stop(5.0))
        if self.inspect_queue is not None:
            self.inspect_queue.stop(INSPECT_DRAIN_S)
        if self.recorder is not None:
            self._write_rest(self.recorder)
        self._guarded(self._snapshot)  # the final `oee` with the interval closed; shifts
        self._guarded(self._stats)  # and the final health sample
        if self.publisher is not None and not self.publisher.drain(timeout=3.0):
            logger.warning("stopping with %d messages in the outbox", self.store_depth())
        self.runtime.close()
        self.reader = self.store = None
        self.retention = None
        self.notifier.close()
        logger.info("agent for line %s stopped", self.config.line.id)

    def _write_rest(self, recorder: Recorder) -> None:
        """Stop the writer thread and write what still waits (a dead disk: logged)."""
        if not recorder.stop_writer(WRITER_STOP_S):
            logger.error("the store did not finish a write in %.0f s", WRITER_STOP_S)
        elif recorder.flush():
            return
        logger.error(
            "%d events could not be written before stopping: %s",
            recorder.pending,
            recorder.counters.alarm,
        )

    def _close_interval(self, stopped: bool) -> None:
        """The agent stops observing: close the open run or stop interval with `no_data`."""
        assert self.worker is not None and self.inspect_queue is not None
        now = self.clock.monotonic()
        if not stopped:
            # leave the stuck pipeline alone; close the interval from here, in order
            logger.warning("the pipeline thread did not stop in time")
            event = StateEvent(self.labels.label(now), "no_data", None, new_id(), now)
            self.inspect_queue.emit(event)
            return
        pipeline = self.worker.pipeline
        pipeline.close()
        last = pipeline.last
        if last is not None:
            # at the recording's last frame when the footage ended
            ended = self.worker.ended
            at = (last.mono, last.wall) if ended else (now, self.labels.label(now))
            pipeline.mark_no_data(*at)

    def store_depth(self) -> int:
        """Outbox rows not yet acknowledged by the broker."""
        try:
            return self.store.outbox.depth() if self.store is not None else 0
        except Exception:  # noqa: BLE001 - only for a log line
            return -1

    def _keep_config(self) -> None:
        """The line file in the store, so `report` and the TUI can rebuild the line."""
        if self.config_text is None or self.store is None:
            return
        try:
            self.store.save_config(self.config_text)
        except StoreWriteError as exc:
            logger.error("cannot keep the configuration in the store: %s", exc)

    def _flag_unsynchronised(self) -> None:
        """Flag where unsynchronised labels begin; a later step is kept beside it."""
        if clock_synchronised() is not False or self.store is None:
            return
        logger.warning("the system clock is not synchronised (no NTP answer since boot)")
        try:
            self.store.meta_set(
                "clock_unsynchronised_from",
                self.labels.label(self.clock.monotonic()).isoformat(),
            )
        except StoreWriteError:
            pass

    def _new_pipeline(self) -> LinePipeline:
        assert self.inspect_queue is not None
        # The pipeline only counts; the queue's thread judges (so no inspector here).
        # The daemon keeps no counted parts: their views (made when the inspect thread
        # reads them) hold their frames' work images until then.
        assert self.timed is not None
        return self.runtime.pipeline(
            None, self.inspect_queue, keep_counted=0, patterned_belt=self.timed.patterned_belt
        )

    def _keep_clock_steps(self) -> None:
        """The wall clock was stepped: keep the latest steps in the store's meta."""
        if self.store is not None:
            try:
                self.store.meta_set("clock_steps", [s.to_json() for s in self.labels.steps[-20:]])
            except StoreWriteError:
                pass

    # ---- supervision (main thread) -----------------------------------------------------

    def _supervise(self, stop: threading.Event) -> None:
        """Until `stop` (or the pipeline halts): watchdog pings, snapshots, samples."""
        assert self.worker is not None
        interval = self.notifier.watchdog_interval() or 5.0
        now = self.clock.monotonic()
        next_ping = next_oee = now
        next_stats = now + min(2.0, self.stats_interval_s)
        while not stop.wait(0.25):
            if self.worker.halt.is_set():  # the recording ended, or a fatal configuration
                return
            now = self.clock.monotonic()
            if now >= next_ping:
                next_ping = now + interval
                self._ping(now)
            if now >= self._next_prune:
                self._guarded(self._prune)
            if now >= next_oee:
                next_oee = now + self._timed_snapshot()
            urgent = (
                self.health.faults != self._published_faults
                or len(self.labels.steps) != self._steps_seen
            )
            if now >= next_stats or urgent:
                next_stats = now + self.stats_interval_s
                self._guarded(self._stats)

    def _ping(self, now: float) -> None:
        """Ping systemd's watchdog only while the pipeline and inspection make progress.

        A slow disk is not a reason to restart: its events wait in memory (bounded).
        """
        assert self.worker is not None
        inspecting = self.inspect_queue.oldest_s if self.inspect_queue is not None else 0.0
        if now - self.worker.heartbeat >= self.stall_s:
            logger.error("pipeline made no progress for %.0f s", now - self.worker.heartbeat)
        elif inspecting >= self.stall_s:
            logger.error("inspection made no progress for %.0f s", inspecting)
        else:
            self.notifier.ping()

    def _timed_snapshot(self) -> float:
        """Take the `oee` snapshot; returns the seconds until the next one."""
        began = time.perf_counter()
        self._guarded(self._snapshot)
        self.health.snapshot_s = time.perf_counter() - began
        # a long shift on a slow board: keep the snapshot under ~5 % of the time
        return max(self.config.mqtt.oee_interval_s, SNAPSHOT_BUDGET * self.health.snapshot_s)

    def _guarded(self, task: Callable[[], None]) -> None:
        """Run a periodic task; a failure is logged and counted, never fatal."""
        try:
            task()
        except Exception as exc:  # noqa: BLE001 - supervision must go on
            self.health.faults += 1
            self.health.last_fault = f"{task.__name__}: {type(exc).__name__}: {exc}"
            logger.exception("supervisor task %s failed", task.__name__)

    def _prune(self) -> None:
        """One retention step (roll up or prune a small batch) on the recorder's thread.

        There a stalled disk holds up only the writes, never the supervisor's samples.
        """
        retention, recorder = self.retention, self.recorder
        self._next_prune = self.clock.monotonic() + RETENTION_EVERY_S
        if retention is None or recorder is None:
            return

        def step() -> None:
            if retention.step():  # more waits: the next step in a second
                self._next_prune = self.clock.monotonic() + 1.0

        recorder.offer("retention", step)

    def _snapshot(self) -> None:
        """The current shift's OEE and closed shifts (`ShiftBook`), as of the time line."""
        if self.shifts is not None:
            self.shifts.update(self.labels.label(self.clock.monotonic()))

    def stats(self) -> dict[str, Any]:
        """Health now: rates over the interval since the previous call, counters, alarms."""
        pipeline = self.pipeline
        stats = self.vitals.sample(
            Sources(
                camera=self.source,
                timed=self.timed,
                parts_uncertain=pipeline.parts_uncertain if pipeline else 0,
                recorder=self.recorder,
                inspection=self.inspect_queue,
                outbox_depth=self.publisher.outbox_depth if self.publisher else None,
            )
        )
        if self._storage is not None:  # the store's size and whether it keeps its bound
            figures, storage = self._storage  # store_mb, store_pruned_over_bound; alarm
            stats.update(figures)
            if storage is not None:
                stats["alarms"].append(storage)
        return stats

    def _measure_storage(self) -> None:
        """The store's figures for the next samples (reads the store: the writer's thread)."""
        if self.retention is not None:
            self._storage = (self.retention.stats(), self.retention.alarm())

    def _stats(self) -> None:
        stats = self.stats()
        self.last_stats = stats
        self._published_faults = self.health.faults
        self._steps_seen = len(self.labels.steps)
        if self.publisher is not None:
            self.publisher.publish_stats(stats)
        store, recorder = self.store, self.recorder
        if store is not None and recorder is not None:
            at = self.labels.label(self.clock.monotonic())

            def keep() -> None:  # on the recorder's thread: a stalled disk holds up only it
                store.record_stats(at, stats)
                self._note_observed()
                self._measure_storage()

            recorder.offer("stats", keep)

    def _note_observed(self) -> None:
        """Until the last frame the line was watched: `report --db` measures to it."""
        pipeline = self.pipeline
        if self.store is not None and pipeline is not None and pipeline.last is not None:
            self.store.note_observed(pipeline.last.wall)


# ---- the command ------------------------------------------------------------------------------


def run_command(args: argparse.Namespace) -> int:
    """`oee-agent run --config LINE.toml`: until SIGTERM/SIGINT."""
    config = RunConfig.of(load_config(args.config))
    text = Path(args.config).read_text(encoding="utf-8")
    agent = Agent(config, config_text=text)
    stop = threading.Event()

    def _signal(signum: int, _frame: object) -> None:
        logger.info("%s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _signal)
    signal.signal(signal.SIGINT, _signal)
    try:
        agent.run(stop)
    finally:
        # Stopped (or the footage ended): a late SIGTERM finds nothing left to do. Ignored,
        # not handled: Python's exit puts handlers back to the default (die by the
        # signal, exit -15) but leaves an ignored signal ignored.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return 0


__all__ = ["Agent", "TimedInspector", "run_command"]
