"""Touching parts: pairs at any spacing, queues, and what cannot be told apart.

Single frames of rendered parts (`agent.sim.parts`) on a noisy belt for the segmenter;
rendered footage (`agent.sim.line`) through the whole pipeline for counting.
"""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest

from agent.config import Direction, parse_config
from agent.counting.roi import RoiView
from agent.counting.segment import BeltSegmenter
from agent.events import PartEvent
from agent.pipeline import LinePipeline, replay_clip
from agent.sim.line import Phase, Scenario, render_line
from agent.sim.parts import PartSpec, composite, render_part
from tests.unit.counting.counting_helpers import missed_and_extra

BELT = (70, 70, 72)
T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)


def belt(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frame = np.empty((200, 640, 3), np.float32)
    frame[:] = BELT
    frame += rng.normal(0, 3, size=frame.shape)
    return np.clip(frame, 0, 255).astype(np.uint8)


def extent(spec: PartSpec, angle: float) -> tuple[float, float]:
    """How far the rendered part reaches behind and ahead of its centre along x."""
    part = render_part(spec, angle)
    cols = np.nonzero((part.mask > 127).any(axis=0))[0]
    return part.centre[0] - cols[0], cols[-1] + 1 - part.centre[0]


def row_of(specs: list[tuple[PartSpec, float]], gap: float, start: float = 60.0, y: float = 100.0):
    """Parts placed along the flow, `gap` pixels apart edge to edge."""
    placed, x = [], start
    for spec, angle in specs:
        behind, ahead = extent(spec, angle)
        x += behind
        placed.append((spec, angle, (x, y)))
        x += ahead + gap
    return placed


def draw(placed, seed: int = 0) -> np.ndarray:
    frame = belt(seed)
    for spec, angle, centre in placed:
        composite(frame, render_part(spec, angle), centre)
    return frame


VIEW = RoiView((0, 0, 640, 200), Direction.LEFT_TO_RIGHT, (640, 200))


def taught(design: str, sizes=(60.0, 70.0), seed: int = 1) -> BeltSegmenter:
    """A segmenter that has seen single parts of the design apart (as a run's first parts)."""
    rng = np.random.default_rng(seed)
    segmenter = BeltSegmenter(min_area=16)
    for frame_no in range(8):
        specs = [
            (PartSpec(design, size=float(rng.uniform(*sizes)), seed=k), float(rng.uniform(0, 360)))
            for k in range(4)
        ]
        _, blobs = segmenter.segment(VIEW.work(draw(row_of(specs, gap=60.0), seed=frame_no)))
        for blob in blobs:
            segmenter.learn_part(blob.area)  # as the counter does for each part seen alone
    return segmenter


@pytest.mark.parametrize("design", ["washer", "hex", "bracket", "angle"])
@pytest.mark.parametrize("gap", [0.0, 1.0, 2.0])
def test_touching_pairs_are_split_at_any_spacing(design: str, gap: float) -> None:
    segmenter = taught(design)
    rng = np.random.default_rng(int(gap * 10) + len(design))
    for trial in range(6):
        pair = [
            (PartSpec(design, size=float(rng.uniform(60, 70)), seed=trial * 2 + k), angle)
            for k, angle in enumerate(rng.uniform(0, 360, size=2))
        ]
        _, blobs = segmenter.segment(VIEW.work(draw(row_of(pair, gap, start=250.0), trial)))
        assert len(blobs) == 2, f"trial {trial}"
        # told apart by the outline (or already apart after the opening): no guess
        assert not any(b.guessed for b in blobs)


@pytest.mark.parametrize("n", [3, 4, 5, 6])
def test_a_queue_of_touching_parts_is_as_many_blobs(n: int) -> None:
    segmenter = taught("washer")
    rng = np.random.default_rng(n)
    for trial in range(4):
        queue = [
            (PartSpec("washer", "brass", float(rng.uniform(60, 70)), seed=k), float(a))
            for k, a in enumerate(rng.uniform(0, 360, size=n))
        ]
        _, blobs = segmenter.segment(VIEW.work(draw(row_of(queue, float(rng.uniform(0, 2))))))
        assert len(blobs) == n, f"trial {trial}"
        assert not any(b.guessed for b in blobs)


@pytest.mark.parametrize("design", ["washer", "hex", "bracket", "angle"])
def test_single_parts_of_varying_size_are_never_split(design: str) -> None:
    segmenter = taught(design, sizes=(56.0, 74.0))
    rng = np.random.default_rng(7)
    for trial in range(10):
        # +-15 % around the usual size, the largest and smallest ones included
        sizes = [56.0, 74.0, *rng.uniform(56, 74, size=2)]
        specs = [
            (PartSpec(design, size=float(s), seed=trial * 4 + k), float(rng.uniform(0, 360)))
            for k, s in enumerate(sizes)
        ]
        _, blobs = segmenter.segment(VIEW.work(draw(row_of(specs, gap=40.0), trial)))
        assert len(blobs) == 4, f"trial {trial}"
        assert not any(b.touching or b.guessed for b in blobs)


def bars(lengths: list[int], seed: int) -> np.ndarray:
    """Flat-ended bars along the flow, flush end to end: no outline shows where one ends."""
    frame = belt(seed)
    x = 40
    for length in lengths:
        if length:
            cv2.rectangle(frame, (x, 80), (x + length - 1, 119), (60, 160, 200), -1)
        x += abs(length) if length else 40
    return frame


def test_a_merged_piece_no_outline_can_split_is_cut_by_its_size_and_marked_a_guess() -> None:
    segmenter = BeltSegmenter(min_area=16)
    for seed in range(8):  # single bars apart: the single part's size
        _, singles = segmenter.segment(VIEW.work(bars([64, 0, 64, 0, 64, 0, 64], seed)))
        for blob in singles:
            segmenter.learn_part(blob.area)
    _, blobs = segmenter.segment(VIEW.work(bars([64, 0, 128, 0, 192], 9)))
    assert [round(b.length / 16) for b in blobs] == [1, 1, 1, 1, 1, 1]
    assert [b.guessed for b in blobs] == [False] + [True] * 5
    assert [b.touching for b in blobs] == [False] + [True] * 5


def tapered(count: int, seed: int, apart: bool) -> np.ndarray:
    """Bars 64 px long whose last 16 px at each end are 32 px tall, not 40: flush end to
    end, two meet in a waist 32 px long and a little lower, no neck to split at."""
    frame = belt(seed)
    x = 40
    for _ in range(count):
        cv2.rectangle(frame, (x, 84), (x + 63, 115), (60, 160, 200), -1)
        cv2.rectangle(frame, (x + 16, 80), (x + 47, 119), (60, 160, 200), -1)
        x += 64 + (40 if apart else 0)
    return frame


def test_a_guess_cuts_a_flat_waist_in_its_middle() -> None:
    """Where two parts meet in a waist of equally narrow columns, the cut by size goes to
    its middle (the contact lies along it), not to its first column: each part keeps its
    length (16 work px), where the first column cut one short."""
    segmenter = BeltSegmenter(min_area=16)
    for seed in range(8):
        _, singles = segmenter.segment(VIEW.work(tapered(4, seed, apart=True)))
        for blob in singles:
            segmenter.learn_part(blob.area)
    _, blobs = segmenter.segment(VIEW.work(tapered(2, 9, apart=False)))
    assert [b.guessed for b in blobs] == [True, True]
    assert [b.length for b in blobs] in ([16, 16], [15, 17], [17, 15]), [b.box for b in blobs]


def test_sizes_too_unlike_to_count_by_leave_a_merged_piece_whole() -> None:
    # parts of many sizes (several products on one belt): an area tells nothing
    segmenter = BeltSegmenter(min_area=16)
    for seed in range(8):
        _, singles = segmenter.segment(VIEW.work(bars([40, 0, 56, 0, 76, 0, 100], seed)))
        for blob in singles:
            segmenter.learn_part(blob.area)
    _, blobs = segmenter.segment(VIEW.work(bars([64, 0, 128], 9)))
    assert len(blobs) == 2
    assert not any(b.guessed for b in blobs)


# ---- through the pipeline, on rendered footage ---------------------------------------------


def replay(truth) -> tuple[LinePipeline, list[PartEvent]]:
    replayed = replay_clip(truth, start_wall=T0)
    return replayed.pipeline, replayed.parts


def matched(truth, pipeline: LinePipeline) -> tuple[int, int]:
    """(missed, extra): true crossings and counts matched one to one within 0.5 s."""
    missed, extra = missed_and_extra(truth, [p.t for p in pipeline.counted])
    return len(missed), len(extra)


#: Parts entering an empty belt, touching at times, a halt, then a released queue.
LINE = Scenario(
    (Phase(1.0, feeding=False), Phase(4.0), Phase(1.5, moving=False), Phase(8.0, queue_s=2.5)),
    seed=3,
    designs=("washer",),
    colours=("brass",),
    size_px=(60.0, 70.0),
    touching_rate=0.35,
)


@pytest.mark.parametrize(
    ("name", "scenario"),
    [
        ("washers", LINE),
        ("small hex nuts", replace(LINE, seed=4, designs=("hex",), size_px=(44.0, 52.0))),
        ("large brackets", replace(LINE, seed=5, designs=("bracket",), size_px=(84.0, 96.0))),
    ],
)
def test_touching_and_queued_parts_are_each_counted_once(tmp_path, name, scenario) -> None:
    truth = render_line(scenario, tmp_path / "line.mp4")
    pipeline, events = replay(truth)
    assert len(truth.counted) >= 12
    assert matched(truth, pipeline) == (0, 0), name
    # every part was told apart by its outline: no count is a guess
    assert not any(e.uncertain for e in events)
    touching = [p for p in pipeline.counted if any(v.touching for v in p.views)]
    assert 0 < len(touching) < len(pipeline.counted)
    assert not any(v.clipped for p in pipeline.counted for v in p.views)


def test_a_part_cut_by_the_roi_edge_across_the_flow_is_clipped(tmp_path) -> None:
    scenario = replace(LINE, phases=(Phase(1.0, feeding=False), Phase(8.0)), touching_rate=0.0)
    truth = render_line(scenario, tmp_path / "line.mp4")
    config = truth.config()
    x, y, w, h = config["vision"]["roi"]
    config["vision"]["roi"] = [x, y + h // 2, w, h - h // 2]  # cuts through some parts
    pipeline = replay_clip(truth, parse_config(config), start_wall=T0).pipeline
    edge = y + h // 2  # the ROI's edge across the flow, in frame pixels
    cut = 0
    for part in pipeline.counted:
        true = min(truth.counted, key=lambda p: abs((p.t_count or 0.0) - part.t))
        reach = true.cross - 0.5 * true.spec.size  # a washer's edge nearest the ROI's edge
        if abs(reach - edge) > 4:  # (not the ones that only graze it)
            assert all(v.clipped for v in part.views) == (reach < edge)
            assert any(v.clipped for v in part.views) == (reach < edge)
            cut += reach < edge
    assert cut > 0


def through_counter(trains: list[list[tuple[int, int]]], step: int = 12, pitch: int = 160):
    """Bar trains (bars end to end, each (length, height) in frame pixels) carried left to
    right `step` pixels per analysed frame, `pitch` apart, through a `PartCounter`."""
    from agent.counting.counter import PartCounter
    from agent.flow.stops import Stamp

    counter = PartCounter(VIEW, count_at=0.5, min_area=16)
    starts, x = [], -64
    for train in trains:
        starts.append((x, train))
        x -= pitch + sum(length for length, _ in train)
    counted = []
    for frame_no in range((-x + 640) // step):
        frame = belt(frame_no % 5)
        for start, train in starts:
            left = start + frame_no * step
            for length, height in train:
                if -length < left < 640:
                    box = ((max(0, left), 80), (min(639, left + length - 1), 79 + height))
                    cv2.rectangle(frame, *box, (60, 160, 200), -1)
                left += length
        now = Stamp(frame_no / 15.0, T0 + timedelta(seconds=frame_no / 15.0))
        counted += counter.process(VIEW.work(frame), frame, now, step * 15.0 / 640)
    return counted + counter.flush()


def test_parts_counted_from_a_guess_are_uncertain_and_only_those() -> None:
    """Flat-ended bars through the counter: a flush pair counts as two, both uncertain."""
    bar = (64, 40)
    counted = through_counter([[bar]] * 8 + [[bar, bar]] + [[bar]])  # the 9th: end to end
    assert [p.uncertain for p in counted] == [False] * 8 + [True, True, False]


def test_a_fragment_never_as_big_as_a_part_is_not_counted() -> None:
    """Once the single part is known, a speck (a patterned belt's fragment standing out
    under shake and light, dirt) crossing the line is no part; parts after it are."""
    bar, speck = (64, 40), (20, 20)  # the speck: a sixth of a part's area
    counted = through_counter([[bar]] * 9 + [[speck]] + [[bar]] * 2)
    assert len(counted) == 11  # (12 with the speck)
