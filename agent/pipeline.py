"""Frames in, events out: flow, stops, counting and inspection for one line.

`LinePipeline` is the vision core shared by `oee-agent replay` and the daemon. Each
frame's ROI is cut out, shrunk by 4 (one bilinear resize at an exact 1/4 scale) and
turned so parts flow along +x; the flow detector and the part counter both work on
that small image, `vision.analysis_fps` times a second, and only the crops of counted
parts are taken at full resolution. Events go to an
`EventSink`:

- a `StateEvent` `running` at the first frame, `stopped` (backdated to when the flow
  stopped; reason `starved` when the belt ran empty) and `running` again when flow or
  parts come back, `no_data` when the daemon says the camera gave nothing;
- a `PartEvent` for every counted part, stamped when its centre crossed `count_at`,
  with the inspector's verdict (`uncertain` when the count was a guess from the size
  of touching parts that could not be told apart); `extra` carries the verdict
  (heatmap, crop) and the counted part (views, cycle time) for pictures. The daemon
  gives the pipeline no inspector and its sink judges the parts on its own thread
  (`agent.inspect_queue`), so the frames never wait for the model.

Event times never go backwards: a backdated event is never stamped before one already
emitted. `pipeline.counted` keeps every `CountedPart` until its owner clears it (teach
reads it; replay and the daemon clear or trim it, so memory stays bounded).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from agent.capture import EndOfStream, Frame, Skipped
from agent.causes.scene import SceneDescription
from agent.causes.watch import StopEnd, StopScene, StopWatcher, backbone_embedder
from agent.config import Config, PipelineConfig
from agent.counting import CountedPart
from agent.counting.counter import PartCounter
from agent.counting.roi import RoiView
from agent.events import Event, PartEvent, State, StateEvent, new_id
from agent.flow import FlowReading
from agent.flow.motion import BeltMotion
from agent.flow.stops import Stamp, StateChange, StopDetector
from agent.inspection import Inspector, NoInspection, Verdict

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PartExtra:
    """What a part event's sink may want beyond the event: pictures and cycle time."""

    verdict: Verdict
    part: CountedPart


class EventSink(Protocol):
    """Where the pipeline's events go (the store, a list in tests, MQTT...)."""

    def emit(self, event: Event, extra: PartExtra | StopScene | StopEnd | None = None) -> None:
        """Take one event; `extra` is set for parts and for stops the pipeline saw.

        A `StopScene` comes with the stop's own event, a `StopEnd` with the event
        that ends it.
        """
        ...


@dataclass
class ListSink:
    """Keeps events (and part extras) in memory, in order."""

    events: list[Event] = field(default_factory=list)
    extras: list[PartExtra] = field(default_factory=list)
    #: Stop id -> the scene the pipeline described when that stop started.
    scenes: dict[str, StopScene] = field(default_factory=dict)
    #: Stop id -> the scene when that stop ended.
    ends: dict[str, SceneDescription] = field(default_factory=dict)

    def emit(self, event: Event, extra: PartExtra | StopScene | StopEnd | None = None) -> None:
        """Append the event (and its extra, for parts; its scenes, for stops)."""
        self.events.append(event)
        if isinstance(extra, PartExtra):
            self.extras.append(extra)
        elif isinstance(extra, StopEnd):
            self.ends[extra.stop_id] = extra.scene
        elif extra is not None and event.id is not None:
            self.scenes[event.id] = extra


class LinePipeline:
    """One line's vision: `process(frame)` for every frame, then `close()`."""

    def __init__(
        self,
        config: Config,
        inspector: Inspector | None = None,
        sink: EventSink | None = None,
        keep_counted: int | None = None,
        describe_stops: bool = True,
        patterned_belt: bool | None = None,
    ) -> None:
        """Build the stages from `config` (which must have a `[vision]` section).

        `counted` keeps every counted part with its crops (what `teach` collects);
        `keep_counted` bounds it to about that many of the latest (0: none), for a
        daemon that runs for months and a replay that needs none. `describe_stops`
        hands each stop's scene and built-in cause (`agent.causes`) to the sink.

        Raises:
            ConfigError: the config has no `[vision]` section.
        """
        self.config = PipelineConfig.of(config)
        self.vision = self.config.vision
        self.inspector: Inspector = inspector or NoInspection()
        self.sink: EventSink = sink or ListSink()
        self.flow = BeltMotion(
            motion_threshold=self.vision.motion_threshold, min_speed=self.vision.min_speed
        )
        self.stops = StopDetector(
            config.downtime.stop_after_s,
            config.downtime.starved_after_s,
            resume_after_s=config.downtime.resume_after_s,
        )
        self.view: RoiView | None = None
        self.counter: PartCounter | None = None
        self.frames = 0
        self.first: Stamp | None = None
        self.last: Stamp | None = None
        self.last_reading: FlowReading | None = None
        self.counted: list[CountedPart] = []
        self.keep_counted = keep_counted
        #: Parts counted as a guess from the size of touching parts (`uncertain`), so far.
        self.parts_uncertain = 0
        self._last_ts: datetime | None = None
        self._last_mono: float | None = None
        self._state: State | None = None
        self._no_data = False
        self._next_analysis: float | None = None
        self.describe_stops = describe_stops
        #: The line was taught on a patterned belt (default: as `inspector` says).
        self.patterned_belt = (
            self.inspector.patterned_belt if patterned_belt is None else patterned_belt
        )
        self.watcher: StopWatcher | None = None
        #: The current stop's scene said the camera's view was lost (covered, moved).
        self._view_lost = False
        #: The id of the stop in progress that was described at its start (else None).
        self._described: str | None = None

    def _setup(self, frame: Frame) -> None:
        height, width = frame.image.shape[:2]
        try:
            self.view = RoiView(self.vision.roi, self.vision.direction, (width, height))
        except ValueError as exc:
            from agent.errors import UserError

            raise UserError(str(exc)) from None
        roi_area = self.view.w * self.view.h
        min_area = int(self.vision.min_part_area * roi_area / self.view.factor**2)
        self.counter = PartCounter(
            self.view,
            self.vision.count_at,
            min_area=min_area,
            contrast=self.vision.part_contrast,
            max_views=self.vision.views_per_part,
            origin_mono=frame.mono,
            analysis_fps=self.vision.analysis_fps,
            patterned_belt=self.patterned_belt,
        )
        if self.describe_stops:
            downtime = self.config.downtime
            keep_s = max(downtime.stop_after_s, downtime.starved_after_s or 0.0) + 1.0
            self.watcher = StopWatcher(self.view, backbone_embedder(), keep_s=keep_s)

    def due(self, mono: float) -> bool:
        """Whether a frame stamped `mono` would be analysed (else only its stamp counts).

        A recording's loop asks before converting a frame to pixels
        (`VideoFileSource.read_if`): at the default `analysis_fps` half the frames of a
        30 fps file need none.
        """
        return (
            self.view is None
            or self.first is None
            or self._no_data
            or self._next_analysis is None
            or mono >= self._next_analysis - 1e-6
        )

    def process(self, frame: Frame | Skipped) -> None:
        """Take one frame; emits whatever events it completes.

        A `Skipped` frame (one `due` declined, without pixels) only advances the time
        line (`frames`, `last`).
        """
        if isinstance(frame, Skipped):
            if self.first is not None:
                self.frames += 1
                self.last = Stamp(frame.mono, frame.wall)
            return
        if self.view is None:
            self._setup(frame)
        assert self.view is not None and self.counter is not None
        now = Stamp(frame.mono, frame.wall)
        if self.first is None:
            self.first = now
            self._emit_state("running", None, now)
        elif self._no_data:
            self._no_data = False
            self._next_analysis = None
            self.flow.reset()
            self.counter.reset()
            self.stops.reset(now)
            self._emit_state("running", None, now)
        self.frames += 1
        self.last = now
        # analyse at `analysis_fps` (a frame per period, on the frames' own clock)
        if self._next_analysis is not None and frame.mono < self._next_analysis - 1e-6:
            return
        period = 1.0 / self.vision.analysis_fps
        if self._next_analysis is None or frame.mono - self._next_analysis > period:
            self._next_analysis = frame.mono + period
        else:
            self._next_analysis += period
        work = self.view.work(frame.image)
        grey = cv2.cvtColor(work, cv2.COLOR_BGR2GRAY)
        reading = self.flow.update(grey, frame.mono)
        self.last_reading = reading
        parts: list[CountedPart] = []
        if self.counter.wants(now, reading.speed, reading.moving):
            parts = self.counter.process(work, frame.image, now, reading.speed)
        changes = self.stops.update(now, reading.moving, self.counter.parts_in_view)
        if changes:
            parts += self.counter.flush()
        for part in sorted(parts, key=lambda p: p.at.mono):
            self._emit_part(part)
        scenes = self._watch(work, grey, frame, reading, changes)
        for change, scene in zip(changes, scenes, strict=True):
            self._apply(change, scene)

    def _watch(
        self,
        work: np.ndarray,
        grey: np.ndarray,
        frame: Frame,
        reading: FlowReading,
        changes: list[StateChange],
    ) -> list[StopScene | StopEnd | None]:
        """The stop watcher's look; the scene of each stop starting or ending in it."""
        if self.watcher is None or self.counter is None:
            return [None] * len(changes)
        segmenter = self.counter.segmenter
        self.watcher.observe(
            grey,
            frame.image,
            frame.mono,
            reading.moving,
            self.counter.blobs,
            lambda: segmenter.foreground(work),
        )
        scenes: list[StopScene | StopEnd | None] = []
        for change in changes:
            scene: StopScene | StopEnd | None = None
            if self._described is not None and change.state != "stopped":
                # the described stop ends: its scene once more (masks and flow only)
                mask = segmenter.foreground(work)
                end = self.watcher.end_scene(grey, mask, reading.moving)
                scene = StopEnd(self._described, end)
            if change.state == "stopped":
                mask = segmenter.foreground(work)
                scene = self.watcher.stop_scene(
                    grey, frame.image, mask, reading.moving, change.at.mono
                )
                self._view_lost = scene.cause.code == "camera"
            if change.state != "stopped" and self._view_lost:
                # what the belt model learnt while the view was lost is not the belt
                segmenter.reset()
                self._view_lost = False
            scenes.append(scene)
        return scenes

    def mark_no_data(self, mono: float, wall: datetime) -> None:
        """The source gave nothing from `mono`/`wall` on (the daemon's watchdog says so).

        Emits `no_data` now; the next frame starts afresh with `running`.
        """
        if self.counter is not None:
            for part in self.counter.flush():
                self._emit_part(part)
        if not self._no_data:
            self._emit_state("no_data", None, Stamp(mono, wall))
            self._no_data = True

    def close(self) -> None:
        """Hand on counted parts still waiting for views (end of footage or shutdown)."""
        if self.counter is not None:
            for part in self.counter.flush():
                self._emit_part(part)

    def _apply(self, change: StateChange, scene: StopScene | StopEnd | None = None) -> None:
        self._emit_state(change.state, change.reason, change.at, scene)

    def _emit_state(
        self,
        state: State,
        reason: str | None,
        at: Stamp,
        scene: StopScene | StopEnd | None = None,
    ) -> None:
        ts, mono = self._monotone(at)
        self._state = state
        cause = scene.cause if isinstance(scene, StopScene) else None
        event = StateEvent(
            ts,
            state,
            reason,
            new_id(),
            mono,
            suggested_reason=cause.code if cause else None,
            confidence=cause.confidence if cause else None,
        )
        self._described = event.id if isinstance(scene, StopScene) else None
        self.sink.emit(event, scene)

    def _emit_part(self, part: CountedPart) -> None:
        verdict = self.inspector.inspect(part.views) if part.views else Verdict(good=True)
        ts, mono = self._monotone(part.at)
        self._keep(part)
        self.parts_uncertain += part.uncertain
        event = PartEvent(ts, id=new_id(), mono=mono, uncertain=part.uncertain)
        self.sink.emit(judged(event, verdict), PartExtra(verdict, part))

    def _keep(self, part: CountedPart) -> None:
        keep = self.keep_counted
        if keep is None or keep > 0:
            self.counted.append(part)
        if keep is not None and len(self.counted) > 2 * keep:
            del self.counted[: len(self.counted) - keep]  # trimmed in batches: cheap

    def continue_from(self, earlier: LinePipeline) -> None:
        """Carry on `earlier`'s event time line (a pipeline restarted after a fault).

        No event of this one is stamped before the last one `earlier` emitted, and its
        count of uncertain parts goes on from `earlier`'s.
        """
        self._last_ts, self._last_mono = earlier._last_ts, earlier._last_mono
        self.parts_uncertain = earlier.parts_uncertain  # the count of guesses goes on

    def _monotone(self, at: Stamp) -> tuple[datetime, float]:
        ts, mono = at.wall, at.mono
        if self._last_ts is not None and ts < self._last_ts:
            ts = self._last_ts
        if self._last_mono is not None and mono < self._last_mono:
            mono = self._last_mono
        self._last_ts, self._last_mono = ts, mono
        return ts, mono


def judged(event: PartEvent, verdict: Verdict) -> PartEvent:
    """`event` with the inspector's `verdict` (a reject without a named defect: `anomaly`)."""
    return replace(
        event,
        good=verdict.good,
        defect=None if verdict.good else (verdict.defect or "anomaly"),
        score=verdict.score,
        inspected=verdict.inspected,
    )


def iter_counted_parts(
    video_path: str | Path, config: Config, start_wall: datetime | None = None
) -> Iterator[CountedPart]:
    """Every part the pipeline counts in a recording, with its views (teach uses this).

    `t` of each part is seconds from the first frame. No inspection runs.

    Raises:
        SourceError: the file is missing or cannot be decoded.
        ConfigError: the config has no `[vision]` section.
    """
    from agent.capture.file import VideoFileSource

    config = PipelineConfig.of(config)
    start = start_wall or datetime(2000, 1, 1, tzinfo=UTC)
    fps = config.camera.fps if config.camera else 30.0
    pipeline = LinePipeline(config, NoInspection(), ListSink(), describe_stops=False)
    with VideoFileSource(video_path, start, fps_fallback=fps) as source:
        while True:
            try:
                frame = source.read_if(pipeline.due)
            except EndOfStream:
                break
            pipeline.process(frame)
            yield from pipeline.counted
            pipeline.counted.clear()  # handed on: the caller keeps what it wants
        pipeline.close()
        yield from pipeline.counted
        pipeline.counted.clear()


class Rendered(Protocol):
    """Rendered footage: its file and the line configuration that matches it.

    (`agent.sim.line.GroundTruth` is one.)
    """

    path: Path

    def config(self) -> dict[str, Any]:
        """The line configuration (as parsed TOML) for this footage."""
        ...


@dataclass(frozen=True)
class Replayed:
    """What `replay_clip` saw: the pipeline after the clip, and its events in order."""

    pipeline: LinePipeline
    sink: ListSink

    @property
    def events(self) -> list[Event]:
        """Every event, in the order emitted."""
        return self.sink.events

    @property
    def parts(self) -> list[PartEvent]:
        """The part events."""
        return [e for e in self.sink.events if isinstance(e, PartEvent)]

    @property
    def stops(self) -> list[StateEvent]:
        """The `stopped` events."""
        return [e for e in self.sink.events if isinstance(e, StateEvent) and e.state == "stopped"]


def replay_clip(
    footage: str | Path | Rendered,
    config: Config | None = None,
    inspector: Inspector | None = None,
    *,
    start_wall: datetime | None = None,
    every_frame: bool = False,
    keep_counted: int | None = None,
    on_frame: Callable[[LinePipeline], None] | None = None,
) -> Replayed:
    """Run `LinePipeline` over a recording, as fast as it decodes, and close it.

    Frames are stamped on the footage's own time line from `start_wall` (default
    2000-01-01 UTC).

    Args:
        footage: A video file, or rendered footage (its config is used when `config`
            is None).
        config: The line configuration; needed for a plain file.
        inspector: Inspects counted parts (default: none, every part good).
        start_wall: Wall time of the first frame.
        every_frame: Decode every frame to pixels (default: only those the pipeline is
            due to analyse; the events are the same).
        keep_counted: Bounds `pipeline.counted` (see `LinePipeline`).
        on_frame: Called with the pipeline after each frame it took.

    Raises:
        ValueError: a plain file was given without a config.
        SourceError: the file is missing or cannot be decoded.
        ConfigError: the config has no `[vision]` section.
    """
    from agent.capture.file import VideoFileSource
    from agent.config import parse_config

    if isinstance(footage, (str, Path)):
        if config is None:
            raise ValueError(f"replaying {footage}: a config is needed for a plain video file")
        path = Path(footage)
    else:
        path = footage.path
        config = config or parse_config(footage.config())
    start = start_wall or datetime(2000, 1, 1, tzinfo=UTC)
    fps = config.camera.fps if config.camera else 30.0
    sink = ListSink()
    pipeline = LinePipeline(config, inspector, sink, keep_counted=keep_counted)
    with VideoFileSource(path, start, fps_fallback=fps) as source:
        while True:
            try:
                frame = source.read(0.0) if every_frame else source.read_if(pipeline.due)
            except EndOfStream:
                break
            pipeline.process(frame)
            if on_frame is not None:
                on_frame(pipeline)
    pipeline.close()
    return Replayed(pipeline, sink)
