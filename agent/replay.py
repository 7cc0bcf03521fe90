"""`oee-agent replay VIDEO --config LINE.toml`: a recording processed as `run` would a camera.

Time zero is the first frame; frame i happens `i / fps` seconds later, and its wall time
is `--start` (default: now) plus that. Frames go through the same `LinePipeline` and
the same store writer (`agent.recorder.Recorder`: events with their MQTT outbox rows,
pictures of rejected parts) as the daemon's. As fast as the file decodes, or paced at
the footage's frame rate with `--realtime`. `--report` writes the contract's replay
report: every part (`t`, verdict), every stop, and the OEE total over the footage.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.capture import EndOfStream
from agent.causes.watch import StopScene
from agent.config import Config, RunConfig, load_config
from agent.errors import UserError
from agent.events import Event, PartEvent, StateEvent
from agent.files import write_atomic
from agent.inspection import Inspector
from agent.oee import compute_oee
from agent.pipeline import LinePipeline, PartExtra
from agent.progress import Progress
from agent.recorder import Recorder
from agent.runtime import Runtime
from agent.shifts import ShiftBook

if TYPE_CHECKING:
    from agent.capture.file import VideoFileSource
    from agent.publish import MqttPublisher
    from agent.store import Store

logger = logging.getLogger(__name__)

#: How long `--publish` waits for the broker to acknowledge everything at the end.
DRAIN_TIMEOUT_S = 60.0


def parse_start(value: str | None, config: Config) -> datetime:
    """`--start` as an aware time; a time without offset is in the line's time zone.

    Raises:
        UserError: it is not an ISO 8601 time.
    """
    if value is None:
        return datetime.now(UTC)
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        raise UserError(f"--start {value!r} is not an ISO 8601 time") from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=config.line.zone)
    return start


class _Collect:
    """Passes events on and keeps what the report needs (not the pixels)."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.events: list[Event] = []
        #: Each part event with the seconds from the first frame to its crossing.
        self.parts: list[tuple[PartEvent, float]] = []

    def emit(self, event: Event, extra: PartExtra | StopScene | None = None) -> None:
        self.recorder.emit(event, extra)
        self.events.append(event)
        if isinstance(event, PartEvent) and isinstance(extra, PartExtra):
            self.parts.append((event, extra.part.t))


def build_report(
    line_id: str,
    frames: int,
    fps: float,
    origin_mono: float,
    events: list[Event],
    parts: list[tuple[PartEvent, float]],
    end_mono: float,
    oee_total: dict[str, Any] | None,
) -> dict[str, Any]:
    """The contract's replay report from what the pipeline emitted.

    `t`, `start` and `end` are seconds from the first frame; a stop still open when the
    footage ends ends at the last frame.
    """
    report_parts = [
        {
            "t": round(t, 3),
            "good": event.good,
            "score": None if event.score is None else round(float(event.score), 4),
            "defect": event.defect,
        }
        for event, t in parts
    ]
    stops: list[dict[str, Any]] = []
    open_stop: dict[str, Any] | None = None
    for event in events:
        if not isinstance(event, StateEvent):
            continue
        at = round((event.mono if event.mono is not None else origin_mono) - origin_mono, 3)
        if open_stop is not None:
            open_stop["end"] = at
            stops.append(open_stop)
            open_stop = None
        if event.state != "running":
            open_stop = {"start": at, "end": None, "state": event.state, "reason": event.reason}
    if open_stop is not None:
        open_stop["end"] = round(end_mono - origin_mono, 3)
        stops.append(open_stop)
    return {
        "line": line_id,
        "frames": frames,
        "fps": round(fps, 3),
        "parts": report_parts,
        "stops": stops,
        "oee": oee_total,
    }


def _inspector(runtime: Runtime) -> Inspector:
    inspector = runtime.inspector()
    if not getattr(inspector, "enabled", False):
        print(
            f"oee-agent replay: inspection is off (no taught model in "
            f"{runtime.config.model_dir}); every part counts as good",
            file=sys.stderr,
        )
    return inspector


class FootageSnapshots:
    """The daemon's retained `oee` snapshots (and closed shifts), on the footage's time line.

    `run` publishes the current shift's OEE every `[mqtt] oee_interval_s`; a replay does
    so every `oee_interval_s` of footage, stamped with the frame's time, and once more
    at the last frame, so a subscriber to a replay sees what it would see of the line.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        publisher: MqttPublisher,
        flush: Callable[[], object] = lambda: None,
    ) -> None:
        """Snapshots of `store`'s events, handed to `publisher`.

        `flush` commits the events still waiting (the recorder commits in groups), so
        a snapshot as of a frame counts every event up to it.
        """
        self.interval = timedelta(seconds=config.mqtt.oee_interval_s)
        self.publisher = publisher
        self._flush = flush
        self.book = ShiftBook(config, store, store, self._publish)
        self._at: datetime | None = None
        self._next: datetime | None = None

    def _publish(self, shift: Mapping[str, Any]) -> object:
        return self.publisher.publish_oee(shift, at=self._at)

    def tick(self, wall: datetime) -> None:
        """A frame at `wall` was processed: take the snapshot when one is due."""
        if self._next is None:
            self._next = wall + self.interval  # the first frame: nothing to say yet
        elif wall >= self._next:
            self.take(wall)
            self._next = wall + self.interval

    def take(self, wall: datetime) -> None:
        """The snapshot as of `wall` now."""
        self._at = wall
        self._flush()
        self.book.update(wall)


def _drain(publisher: MqttPublisher, config: Config) -> None:
    """Wait (bounded) until the broker acknowledged every queued message.

    Raises:
        UserError: some messages are still queued when the time is up (they stay in
            the store's outbox for the next `run` or `replay --publish`).
    """
    if publisher.drain(timeout=DRAIN_TIMEOUT_S):
        logger.info("every event was acknowledged by %s:%d", config.mqtt.host, config.mqtt.port)
        return
    left = publisher.outbox_depth
    raise UserError(
        f"the MQTT broker at {config.mqtt.host}:{config.mqtt.port} did not acknowledge "
        f"{left} queued messages within {DRAIN_TIMEOUT_S:.0f} s; they stay in the store's "
        "outbox for the next `run` or `replay --publish`"
    )


def _play(
    source: VideoFileSource,
    pipeline: LinePipeline,
    realtime: bool,
    snapshots: FootageSnapshots | None,
) -> None:
    """Every frame of the recording through the pipeline (paced at its rate if `realtime`)."""
    paced_from: float | None = None
    with Progress(source.frame_count, "replay") as bar:
        while True:
            try:
                frame = source.read_if(pipeline.due)
            except EndOfStream:
                break
            if realtime:
                if paced_from is None:
                    paced_from = time.monotonic() - frame.mono
                ahead = paced_from + frame.mono - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            pipeline.process(frame)
            if snapshots is not None:
                snapshots.tick(frame.wall)
            bar.update()
    pipeline.close()


def _report_path(value: str | None) -> Path | None:
    path = Path(value) if value else None
    if path is not None and not path.parent.exists():
        raise UserError(f"--report {path}: folder {path.parent} does not exist")
    return path


def run_command(args: argparse.Namespace) -> int:
    """`oee-agent replay VIDEO --config LINE.toml [--db] [--report] [--realtime] [--start]`."""
    config = RunConfig.of(load_config(args.config))
    start = parse_start(args.start, config)
    report_path = _report_path(args.report)
    db_path = Path(args.db) if args.db else config.store_path
    undelivered: UserError | None = None
    with Runtime(config) as runtime:
        source = runtime.open_recording(args.video, start)
        inspector = _inspector(runtime)
        store = runtime.open_store(db_path)
        store.save_config(Path(args.config).read_text(encoding="utf-8"))
        publisher = runtime.start_publisher(store) if args.publish else None
        sink = _Collect(runtime.recorder(store, publisher))
        pipeline = runtime.pipeline(inspector, sink, keep_counted=0)  # bounded memory
        flush = sink.recorder.flush
        snapshots = FootageSnapshots(config, store, publisher, flush) if publisher else None
        _play(source, pipeline, args.realtime, snapshots)
        if not sink.recorder.flush():
            raise UserError(f"{db_path}: the store refused to write the replay's events")
        if pipeline.last is not None:  # so `report --db` measures to the last frame too
            store.note_observed(pipeline.last.wall)
        if snapshots is not None and pipeline.last is not None:
            snapshots.take(pipeline.last.wall)  # the final one (and ended shifts), as `run`
        if publisher is not None:
            try:
                _drain(publisher, config)
            except UserError as exc:
                undelivered = exc  # the report is still written; the command then fails
    if pipeline.first is None or pipeline.last is None:
        raise UserError(f"cannot decode video file {args.video}: no usable frame")
    logger.info(
        "replayed %s: %d frames, %d parts, %d events into %s",
        args.video,
        source.frames_read,
        len(sink.parts),
        len(sink.events),
        db_path,
    )
    if report_path is not None:
        _write_report(report_path, config, source, pipeline, sink)
    if undelivered is not None:
        raise undelivered
    return 0


def _write_report(
    path: Path,
    config: Config,
    source: VideoFileSource,
    pipeline: LinePipeline,
    sink: _Collect,
) -> None:
    assert pipeline.first is not None and pipeline.last is not None
    oee = compute_oee(sink.events, config, observed_until=pipeline.last.wall)
    report = build_report(
        config.line.id,
        source.frames_read,
        source.fps,
        pipeline.first.mono,
        sink.events,
        sink.parts,
        pipeline.last.mono,
        oee.to_json()["total"],
    )
    write_atomic(path, json.dumps(report, indent=1) + "\n")
