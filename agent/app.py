"""`oee-agent run`: the on-device daemon, wiring camera -> vision -> OEE -> store -> MQTT.

Threads, each named: the capture reader (inside the source), `pipeline` (frames to
events), the publisher's outbox thread, and the main thread, which supervises: it
pings systemd's watchdog only while the pipeline makes progress, publishes the `oee`
snapshot and health `stats`, closes finished shifts and retries a refusing disk.
Everything waits with a timeout on one stop event; `stop()` undoes `start()` in reverse.

Time: frames are stamped by the capture clock; event wall times come from the
`WallLabels` time line, which follows the monotonic clock, so a wall clock that is
stepped (NTP after a boot without a real-time clock) never makes time run backwards
or count twice. A step is logged, published as an alarm and written to the store.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from agent.capture import EndOfStream, Frame, SourceDown, SourceUp
from agent.clock import Clock, SystemClock
from agent.config import Config, load_config
from agent.errors import UserError
from agent.events import Event, StateEvent, new_id
from agent.health import board_health, cpu_seconds
from agent.inspection import Inspector, NoInspection
from agent.oee import compute_oee
from agent.pipeline import LinePipeline
from agent.publish import OpenStop, open_stop_after, shift_message
from agent.recorder import Recorder
from agent.store import Store, StoreWriteError
from agent.systemd import Notifier

logger = logging.getLogger(__name__)

#: How far back the daemon reads events to rebuild the current shift (longest shift + margin).
HISTORY = timedelta(hours=36)
#: The pipeline must have made progress this recently for the watchdog to be pinged.
STALL_S = 20.0
#: A wall clock this far from the monotonic time line counts as stepped.
STEP_S = 2.0


class WallLabels:
    """Wall-time labels that follow the monotonic clock from an anchor.

    `label(mono)` never goes backwards. `check()` compares the system clock with the
    time line; a difference over `STEP_S` is a step: it is reported, and the time line
    moves to the new wall time only forward (a backward step would relabel the past).
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.anchor_mono = clock.monotonic()
        self.anchor_wall = clock.wall()
        self.steps: list[float] = []

    def label(self, mono: float) -> datetime:
        """The wall time of monotonic instant `mono`."""
        return self.anchor_wall + timedelta(seconds=mono - self.anchor_mono)

    def check(self) -> float | None:
        """Seconds the system clock was stepped by since the last check, or None."""
        mono = self.clock.monotonic()
        offset = (self.clock.wall() - self.label(mono)).total_seconds()
        if abs(offset) < STEP_S:
            return None
        self.steps.append(offset)
        if offset > 0:
            # Forward (typically NTP's first sync): later events get true labels; the
            # jump itself is not time that passed, so it is not counted as a state.
            self.anchor_mono, self.anchor_wall = mono, self.clock.wall()
        return offset


@dataclass
class Health:
    """Counters the supervisor publishes on `stats` and keeps in the store."""

    frames: int = 0
    started_mono: float = 0.0
    faults: int = 0
    last_fault: str | None = None
    clock_steps: list[float] = field(default_factory=list)
    cpu_start: float = 0.0


class Agent:
    """One line's daemon. `run(stop)` blocks until `stop` is set."""

    def __init__(
        self,
        config: Config,
        *,
        config_text: str | None = None,
        clock: Clock | None = None,
        source_factory: Callable[[Config, Clock], Any] | None = None,
        inspector: Inspector | None = None,
        notifier: Notifier | None = None,
        publish: bool = True,
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
        self.health = Health()
        self.labels = WallLabels(self.clock)
        self.store: Store | None = None
        self.recorder: Recorder | None = None
        self.publisher: Any = None
        self.source: Any = None
        self.pipeline: LinePipeline | None = None
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._heartbeat = self.clock.monotonic()
        self._shift_key: tuple[str, str] | None = None

    # ---- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        """Open the store, resume, start the feed, the camera and the pipeline thread."""
        self.health.started_mono = self.clock.monotonic()
        self.health.cpu_start = cpu_seconds()
        self.store = Store.open(self.config.store_path)
        if self.config_text is not None:
            self.store.save_config(self.config_text)
        open_stop = self._resume(self.store)
        if self.publish:
            from agent.publish import MqttPublisher

            self.publisher = MqttPublisher(self.config, self.store, clock=self.clock)
            self.publisher.start()
        self.recorder = Recorder(
            self.store,
            self.config,
            on_written=self.publisher.notify if self.publisher else None,
            pictures=_picture_saver(self.config),
            open_stop=open_stop,
        )
        inspector = self.inspector or _load_inspector(self.config)
        self.pipeline = LinePipeline(self.config, inspector, self.recorder)
        self.source = self.source_factory(self.config, self.clock)
        self._thread = threading.Thread(target=self._pipeline_loop, name="pipeline", daemon=True)
        self._thread.start()
        self.notifier.ready(f"line {self.config.line.id} counting")
        logger.info("agent for line %s started", self.config.line.id)

    def run(self, stop: threading.Event) -> None:
        """Start, supervise until `stop` is set (or the footage ends), then stop."""
        self.start()
        try:
            self._supervise(stop)
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop in reverse order: camera and pipeline, open interval, feed, store."""
        self.notifier.stopping()
        self._halt.set()
        if self.source is not None:
            self.source.close()
        if self._thread is not None:
            self._thread.join(5.0)
            if self._thread.is_alive():
                logger.warning("the pipeline thread did not stop in time")
        if self.pipeline is not None and self.recorder is not None:
            self.pipeline.close()
            # The agent stops observing: close the open run or stop interval.
            now = self.clock.monotonic()
            self.recorder.emit(StateEvent(self._label(now), "no_data", None, new_id(), now))
            self.recorder.flush()
        if self.publisher is not None:
            self.publisher.drain(timeout=3.0)
            self.publisher.stop(timeout=3.0)
        if self.store is not None:
            self.store.close()
        self.notifier.close()
        logger.info("agent for line %s stopped", self.config.line.id)

    # ---- the pipeline thread ------------------------------------------------------------

    def _pipeline_loop(self) -> None:
        backoff = 1.0
        while not self._halt.is_set():
            try:
                self._consume()
                return
            except EndOfStream:
                logger.info("the recording ended")
                self._halt.set()
                return
            except Exception as exc:  # a stage fault: log, count, restart with backoff
                self.health.faults += 1
                self.health.last_fault = f"{type(exc).__name__}: {exc}"
                logger.exception("pipeline fault, restarting in %.0f s", backoff)
                if self._halt.wait(backoff):
                    return
                backoff = min(backoff * 2, 60.0)
                assert self.recorder is not None
                inspector = self.pipeline.inspector if self.pipeline else NoInspection()
                self.pipeline = LinePipeline(self.config, inspector, self.recorder)

    def _consume(self) -> None:
        assert self.pipeline is not None
        while not self._halt.is_set():
            item = self.source.read(0.5)
            self._heartbeat = self.clock.monotonic()
            if item is None:
                continue
            if isinstance(item, Frame):
                frame = Frame(item.index, item.mono, self._label(item.mono), item.image)
                self.pipeline.process(frame)
                self.health.frames += 1
            elif isinstance(item, SourceDown):
                logger.warning("camera gave nothing since %s: %s", item.wall, item.why)
                self.pipeline.mark_no_data(item.mono, self._label(item.mono))
            elif isinstance(item, SourceUp):
                logger.info("camera back")

    def _label(self, mono: float) -> datetime:
        return self.labels.label(mono)

    # ---- supervision (main thread) -----------------------------------------------------

    def _supervise(self, stop: threading.Event) -> None:
        interval = self.notifier.watchdog_interval() or 5.0
        next_ping = next_oee = next_stats = self.clock.monotonic()
        while not stop.wait(0.25):
            if self._halt.is_set():  # the recording ended
                return
            now = self.clock.monotonic()
            if now >= next_ping:
                next_ping = now + interval
                if now - self._heartbeat < STALL_S:
                    self.notifier.ping()
                else:
                    logger.error("pipeline made no progress for %.0f s", now - self._heartbeat)
            step = self.labels.check()
            if step is not None:
                self._clock_stepped(step)
            if self.recorder is not None and self.recorder.pending:
                self.recorder.flush()
            if now >= next_oee:
                next_oee = now + self.config.mqtt.oee_interval_s
                self._snapshot()
            if now >= next_stats:
                next_stats = now + 10.0
                self._stats()

    def _clock_stepped(self, offset: float) -> None:
        self.health.clock_steps.append(offset)
        logger.warning(
            "the wall clock was stepped by %+.1f s; events follow the monotonic clock", offset
        )
        if self.store is not None:
            try:
                self.store.meta_set("clock_steps", self.health.clock_steps[-20:])
            except StoreWriteError:
                pass

    def _snapshot(self) -> None:
        """The current shift's OEE from the store (so a restart resumes where it was)."""
        if self.store is None:
            return
        now_mono = self.clock.monotonic()
        now = self._label(now_mono)
        try:
            events = self.store.events(start=now - HISTORY)
        except Exception as exc:  # a read failure must not stop counting
            logger.warning("cannot read events for the oee snapshot: %s", exc)
            return
        if not events:
            return
        report = compute_oee(events, self.config, observed_until=max(now, events[-1].ts))
        current = report.current_shift(now)
        zone = self.config.line.zone
        if current is not None and self.publisher is not None:
            self.publisher.publish_oee(current.to_json(zone))
        key = (current.shift, str(current.date)) if current is not None else None
        if self._shift_key is not None and key != self._shift_key:
            self._close_shift(report, self._shift_key, now)
        self._shift_key = key

    def _close_shift(self, report: Any, key: tuple[str, str], now: datetime) -> None:
        for shift in report.shifts:
            if (shift.shift, str(shift.date)) == key:
                result = shift.to_json(self.config.line.zone)
                assert self.store is not None
                try:
                    self.store.save_shift_result(result)
                    self.store.enqueue([shift_message(result, self.config, now)])
                except StoreWriteError as exc:
                    logger.error("shift %s %s not saved: %s", *key, exc)
                logger.info("shift %s of %s closed: OEE %s", key[0], key[1], result.get("oee"))

    def _stats(self) -> None:
        elapsed = max(1e-6, self.clock.monotonic() - self.health.started_mono)
        stats: dict[str, Any] = {
            "fps": round(self.health.frames / elapsed, 2),
            "frames": self.health.frames,
            "faults": self.health.faults,
            "last_fault": self.health.last_fault,
            "cpu_percent": round(100 * (cpu_seconds() - self.health.cpu_start) / elapsed, 1),
            "clock_steps": len(self.health.clock_steps),
        }
        if self.source is not None and hasattr(self.source, "stats"):
            stats["camera"] = self.source.stats()
        if self.recorder is not None:
            stats["pending_events"] = self.recorder.pending
            stats["store_alarm"] = self.recorder.counters.alarm
        stats.update(board_health(self.config.store_path))
        if self.publisher is not None:
            self.publisher.publish_stats(stats)
        if self.store is not None:
            try:
                self.store.record_stats(self._label(self.clock.monotonic()), stats)
            except StoreWriteError:
                pass

    # ---- resuming after a restart --------------------------------------------------------

    def _resume(self, store: Store) -> OpenStop | None:
        """Close what a previous run left open: the time it was down is `no_data`."""
        now = self._label(self.clock.monotonic())
        events = store.events(start=now - HISTORY)
        if not events:
            return None
        last_state = next((e for e in reversed(events) if isinstance(e, StateEvent)), None)
        open_stop: OpenStop | None = None
        for event in events:
            if isinstance(event, StateEvent):
                open_stop = open_stop_after(event, open_stop)
        if last_state is None or last_state.state == "no_data":
            return open_stop
        # The previous run ended without closing its interval (a crash, a power cut):
        # from its last event on nothing was observed.
        last = events[-1]
        recorder = Recorder(store, self.config, open_stop=open_stop)
        recorder.emit(StateEvent(max(last.ts, last_state.ts), "no_data", None, new_id()))
        if not recorder.flush():
            raise UserError(f"{self.config.store_path}: cannot write to the store")
        return None


# ---- defaults for the real board ----------------------------------------------------------


def _open_camera(config: Config, clock: Clock) -> Any:
    from agent.capture.sources import open_source

    assert config.camera is not None
    return open_source(config.camera, clock, base_dir=config.base_dir)


def _load_inspector(config: Config) -> Inspector:
    try:
        from agent.inspection.model import load_inspector  # type: ignore[import-not-found]
    except ImportError:
        logger.warning("inspection is off: this build has no inspection model loader")
        return NoInspection()
    inspector: Inspector = load_inspector(config)
    return inspector


def _picture_saver(config: Config) -> Any:
    try:
        from agent.inspection.pictures import (  # type: ignore[import-not-found]
            save_defect_picture,
        )
    except ImportError:
        return None

    def save(verdict: Any, part_id: str) -> Path | None:
        path: Path | None = save_defect_picture(
            verdict, config.images_dir, part_id, keep=config.inspection.keep_images
        )
        return path

    return save


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


__all__ = ["Agent", "Event", "WallLabels", "run_command"]
