"""The daemon's `pipeline` thread: frames from the source through the line's pipeline.

It stamps each frame with the wall time line (`WallLabels`), counts what the health
sample needs, turns the camera's outages and the wall clock's steps into `no_data`,
and after a stage fault starts a fresh pipeline (with backoff) that carries the
event time line on. The supervisor reads `heartbeat` to know it makes progress.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from agent.capture import EndOfStream, Frame, Skipped, SourceDown, SourceUp
from agent.clock import Clock
from agent.errors import UserError
from agent.health_stats import Health
from agent.pipeline import LinePipeline
from agent.timeline import ClockStep, WallLabels

logger = logging.getLogger(__name__)

#: A pipeline that ran this long without a fault starts its backoff afresh.
HEALTHY_AFTER_S = 60.0


class PipelineThread:
    """Runs `new_pipeline()`'s pipeline on a source's frames until halted or the end."""

    def __init__(
        self,
        new_pipeline: Callable[[], LinePipeline],
        clock: Clock,
        labels: WallLabels,
        health: Health,
        on_clock_step: Callable[[], None],
    ) -> None:
        """The first pipeline is built now (the source asks it which frames it wants)."""
        self.new_pipeline = new_pipeline
        self.clock = clock
        self.labels = labels
        self.health = health
        self.on_clock_step = on_clock_step
        self.pipeline = new_pipeline()
        self.halt = threading.Event()
        #: When the thread last took something from the source (or waited for it).
        self.heartbeat = clock.monotonic()
        #: The recording ended (the time line stops at its last frame).
        self.ended = False
        #: A configuration problem found while running (the pipeline cannot go on).
        self.fatal: UserError | None = None
        self._thread: threading.Thread | None = None

    def start(self, source: Any) -> None:
        """Start the thread on `source` (something with `read(timeout)`)."""
        self.heartbeat = self.clock.monotonic()
        self._thread = threading.Thread(target=self._run, args=(source,), name="pipeline")
        self._thread.daemon = True
        self._thread.start()

    def stop(self, timeout: float) -> bool:
        """Halt and wait for the thread; True when it stopped in time."""
        self.halt.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def due(self, mono: float) -> bool:
        """Whether the pipeline will analyse a frame stamped `mono`.

        The camera's reader thread asks before converting a frame to pixels; it may ask
        before the pipeline has taken the frames ahead of it, but the pipeline's next
        analysis time only moves forward, so a stale answer errs towards converting.
        """
        return self.pipeline.due(mono)

    def _run(self, source: Any) -> None:
        backoff = 1.0
        while not self.halt.is_set():
            started = self.clock.monotonic()
            try:
                self._consume(source)
                return
            except EndOfStream:
                logger.info("the recording ended")
                self.ended = True
                self.halt.set()
                return
            except UserError as exc:  # a configuration the pipeline cannot work with
                logger.error("%s", exc)
                self.fatal = exc
                self.halt.set()
                return
            except Exception as exc:  # a stage fault: log, count, restart with backoff
                if self.clock.monotonic() - started > HEALTHY_AFTER_S:
                    backoff = 1.0
                self.health.faults += 1
                self.health.last_fault = f"{type(exc).__name__}: {exc}"
                logger.exception("pipeline fault, restarting it in %.0f s", backoff)
                if self.halt.wait(backoff):
                    return
                backoff = min(backoff * 2, 60.0)
                self._restart()

    def _restart(self) -> None:
        """A fresh pipeline after a fault; the gap is `no_data`, as after a camera outage."""
        old = self.pipeline
        if old.last is not None:
            try:
                old.mark_no_data(old.last.mono, old.last.wall)
            except Exception:  # noqa: BLE001 - the faulty pipeline may fail again
                logger.warning("could not close the faulty pipeline's interval", exc_info=True)
        self.pipeline = self.new_pipeline()
        self.pipeline.continue_from(old)  # event times stay monotone across pipelines

    def _consume(self, source: Any) -> None:
        pipeline = self.pipeline
        while not self.halt.is_set():
            item = source.read(0.5)
            self.heartbeat = self.clock.monotonic()
            step = self.labels.check()
            if step is not None:
                self._clock_stepped(step, pipeline)
            if isinstance(item, Frame | Skipped):
                self._process(pipeline, item)
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

    def _process(self, pipeline: LinePipeline, item: Frame | Skipped) -> None:
        """One frame, stamped on the wall time line, timed for the health sample."""
        label = self.labels.label(item.mono)
        frame = (
            Frame(item.index, item.mono, label, item.image)
            if isinstance(item, Frame)
            else Skipped(item.index, item.mono, label)
        )
        began = time.perf_counter()
        pipeline.process(frame)
        self.health.process_s += time.perf_counter() - began
        self.health.frame_age_s += max(0.0, self.heartbeat - item.mono)
        self.health.frames += 1

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
        self.on_clock_step()


__all__ = ["HEALTHY_AFTER_S", "PipelineThread"]
