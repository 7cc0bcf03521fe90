"""LinePipeline on short rendered clips: every direction, crops for inspection, events."""

import weakref
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from agent.capture import EndOfStream
from agent.capture.file import VideoFileSource
from agent.config import parse_config
from agent.events import PartEvent, StateEvent
from agent.inspection import PartCrop, Verdict
from agent.pipeline import LinePipeline, ListSink, iter_counted_parts, replay_clip
from agent.sim.line import DIRECTIONS, Phase, Scenario, render_line

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)


def clip(direction: str) -> Scenario:
    return Scenario(
        (Phase(4.0), Phase(3.0, moving=False), Phase(4.0)),
        seed=5,
        width=320,
        height=240,
        size_px=(34, 40),
        speed_px_s=110,
        direction=direction,
        designs=("washer", "bracket", "hex"),
        pitch_s=(0.6, 0.9),
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return {d: render_line(clip(d), folder / f"{d}.mp4") for d in DIRECTIONS}


class Recording:
    """An inspector that says every part is good and records what it was shown."""

    enabled = True
    patterned_belt = False

    def __init__(self) -> None:
        self.seen: list[list[PartCrop]] = []

    def inspect(self, views):
        self.seen.append(list(views))
        return Verdict(good=True, score=0.1)


def replay(truth, inspector=None, every_frame: bool = True) -> tuple[LinePipeline, ListSink]:
    """Through the pipeline: every frame as pixels, or only those it is `due` to analyse."""
    replayed = replay_clip(truth, None, inspector, start_wall=T0, every_frame=every_frame)
    return replayed.pipeline, replayed.sink


def test_frames_the_pipeline_is_not_due_to_analyse_need_no_pixels(rendered) -> None:
    truth = rendered["left_to_right"]
    full, full_sink = replay(truth)
    lean, lean_sink = replay(truth, every_frame=False)
    assert lean.frames == full.frames == truth.frames
    assert lean.last == full.last

    def seen(sink: ListSink) -> list[tuple]:  # events less their random ids
        return [(type(e), e.ts, e.mono, getattr(e, "state", None)) for e in sink.events]

    assert seen(lean_sink) == seen(full_sink)
    assert len(lean.counted) == len(truth.counted)


def test_a_halted_belt_is_counted_only_every_few_frames(rendered, monkeypatch) -> None:
    """While the flow says the belt is halted no part comes to the line, even one that
    stopped beside it: the counter runs on the idle cadence (every `idle_every`-th
    analysed frame), and the parts and the stop come out as before."""
    truth = rendered["left_to_right"]
    looks: list[tuple[bool, bool]] = []  # (moving, counted) per analysed frame
    process = LinePipeline.process

    def watched(self, frame) -> None:
        before = None if self.counter is None else self.counter._last_run
        process(self, frame)
        if self.last_reading is not None and hasattr(frame, "image"):
            looks.append((self.last_reading.moving, self.counter._last_run != before))

    monkeypatch.setattr(LinePipeline, "process", watched)
    pipeline, sink = replay(truth)
    halted = [counted for moving, counted in looks if not moving]
    assert len(halted) >= 40  # the 3 s stop at 15 analysed frames a second
    idle_every = pipeline.counter.idle_every
    assert sum(halted) <= len(halted) / idle_every + 2  # (all of them before)
    assert len(pipeline.counted) == len(truth.counted)
    states = [e.state for e in sink.events if isinstance(e, StateEvent)]
    assert states == ["running", "stopped", "running"]


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_every_direction_counts_every_part_and_the_stop(rendered, direction: str) -> None:
    truth = rendered[direction]
    inspector = Recording()
    pipeline, sink = replay(truth, inspector)
    parts = [e for e in sink.events if isinstance(e, PartEvent)]
    states = [(e.state, round(e.mono, 1)) for e in sink.events if isinstance(e, StateEvent)]
    assert len(parts) == len(truth.counted) >= 8
    expected = [p.t_count for p in truth.counted]
    assert [p.t for p in pipeline.counted] == pytest.approx(expected, abs=0.25)
    assert states[0] == ("running", 0.0)
    assert [s for s, _ in states[1:]] == ["stopped", "running"]
    assert states[1][1] == pytest.approx(4.0, abs=0.5) and states[2][1] == pytest.approx(
        7.0, abs=0.5
    )
    # times never go backwards, and every part event carries the inspector's verdict
    stamps = [e.ts for e in sink.events]
    assert stamps == sorted(stamps)
    assert all(p.score == 0.1 and p.good for p in parts)
    # each part was inspected on full-resolution crops with masks around its crossing
    assert len(inspector.seen) == len(parts)
    for views in inspector.seen:
        assert 2 <= len(views) <= 5
        for view in views:
            assert view.image.shape[2] == 3 and view.mask.shape == view.image.shape[:2]
            assert 0.2 < view.mask.mean() < 0.9
            assert view.image[view.mask].mean() > view.image[~view.mask].mean() + 30
            # the light it was seen under: the belt's grey, read along the window
            belt = float(np.median(view.image[~view.mask].mean(axis=1)))
            assert view.light == pytest.approx(belt, abs=6)


def test_cycle_times_are_the_gaps_between_crossings(rendered) -> None:
    pipeline, _ = replay(rendered["left_to_right"])
    times = [p.t for p in pipeline.counted]
    cycles = [p.cycle_s for p in pipeline.counted]
    assert cycles[0] is None
    assert cycles[1:] == pytest.approx(list(np.diff(times)), abs=1e-6)


def test_iter_counted_parts_yields_parts_with_views(rendered) -> None:
    truth = rendered["top_to_bottom"]
    parts = list(iter_counted_parts(truth.path, parse_config(truth.config())))
    assert len(parts) == len(truth.counted)
    assert all(p.views and p.t >= 0 for p in parts)


def test_no_data_then_frames_again_restarts_cleanly(rendered) -> None:
    truth = rendered["left_to_right"]
    sink = ListSink()
    pipeline = LinePipeline(parse_config(truth.config()), None, sink)
    with VideoFileSource(Path(truth.path), T0) as source:
        for _ in range(30):
            pipeline.process(source.read(0.0))
        pipeline.mark_no_data(1.0, T0)
        for _ in range(30):
            pipeline.process(source.read(0.0))
    states = [e.state for e in sink.events if isinstance(e, StateEvent)]
    assert states == ["running", "no_data", "running"]


def test_the_pipeline_keeps_no_reference_to_a_frame(rendered) -> None:
    # a frame still referenced when the next one decodes makes the decoder write into
    # memory out of the cache (see docs/performance.md): views keep copies instead
    truth = rendered["left_to_right"]
    pipeline = LinePipeline(parse_config(truth.config()), None, ListSink())
    with VideoFileSource(truth.path, T0) as source:
        while True:
            try:
                frame = source.read(0.0)
            except EndOfStream:
                break
            pipeline.process(frame)
            image = weakref.ref(frame.image)
            del frame
            assert image() is None, f"frame {pipeline.frames} is still referenced"
    pipeline.close()
    assert pipeline.counted, "the clip's parts were counted (and their views cut)"


def test_a_parts_views_are_made_when_read_on_the_readers_thread(rendered, monkeypatch) -> None:
    """The counting thread only cuts a part's pixels: its views (mask, neighbours, light)
    are made by whoever reads them (the daemon's inspect thread), the same views as a
    replay's inspector is shown, and none at all when nobody reads them."""
    import threading

    from agent.counting.counter import PartCounter

    truth = rendered["right_to_left"]
    inspector = Recording()
    replay(truth, inspector)  # read inline, as replay's inspector does
    makers: list[int] = []
    make = PartCounter._view

    def watched(self, seen):  # type: ignore[no-untyped-def]
        makers.append(threading.get_ident())
        return make(self, seen)

    monkeypatch.setattr(PartCounter, "_view", watched)
    pipeline, _ = replay(truth)
    assert makers == [] and len(pipeline.counted) == len(inspector.seen) >= 8
    read: list[list[PartCrop]] = []
    reader = threading.Thread(target=lambda: read.extend(list(p.views) for p in pipeline.counted))
    reader.start()
    reader.join()
    assert len(makers) == sum(len(v) for v in read) and set(makers) == {reader.ident}
    for views, shown in zip(read, inspector.seen, strict=True):
        assert len(views) == len(shown)
        for a, b in zip(views, shown, strict=True):
            assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
            assert (a.light, a.touching, a.clipped) == (b.light, b.touching, b.clipped)
    before = len(makers)
    assert [list(p.views) for p in pipeline.counted] == read  # made once
    assert len(makers) == before


def test_counted_parts_are_bounded_when_asked_and_time_carries_over(rendered) -> None:
    """The daemon keeps only the latest counted parts; a restarted pipeline's events
    never go back before the faulty one's."""
    truth = rendered["left_to_right"]
    config = parse_config(truth.config())
    kept = []
    for keep in (None, 2, 0):

        def bounded(pipeline: LinePipeline, keep: int | None = keep) -> None:
            assert keep is None or len(pipeline.counted) <= 2 * max(keep, 1)

        pipeline = replay_clip(
            truth, config, start_wall=T0, every_frame=True, keep_counted=keep, on_frame=bounded
        ).pipeline
        kept.append(len(pipeline.counted))
    assert kept[0] == len(truth.counted) > 4 and kept[1] <= 4 and kept[2] == 0
    assert pipeline.first is not None and pipeline.last is not None
    last_event = pipeline.sink.events[-1]  # type: ignore[attr-defined]
    later = LinePipeline(config, sink=ListSink())
    later.continue_from(pipeline)
    # a stamp from before the faulty pipeline's last event is moved up to it
    assert later._monotone(pipeline.first)[0] == last_event.ts > pipeline.first.wall
