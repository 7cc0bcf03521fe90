"""Counting on patterned belts, from rendered video through the real pipeline.

Cleats (bright bars across the belt, with a shadow), perforations (a grid of dark
holes), modular links and seams repeat along the belt and travel with it; some stand
out from the belt's colour as much as a part does. They are the belt, never parts: an
empty running belt counts nothing and is `starved`, and parts on it are counted
exactly. Every clip has camera shake, sensor noise, flicker, a lighting step and
motion blur (as tests/unit/flow/test_patterned_belts.py renders them).

Tuned on seeds 1 and 2 (in scratch scripts); these tests run seeds 3-8, which were not.
"""

from datetime import UTC, datetime

import numpy as np
import pytest

from agent.capture import EndOfStream
from agent.capture.file import VideoFileSource
from agent.config import parse_config
from agent.counting.roi import RoiView
from agent.counting.segment import BeltSegmenter
from agent.events import PartEvent, StateEvent
from agent.pipeline import LinePipeline, ListSink
from agent.sim.line import GroundTruth, Phase, Scenario, render_frames, render_line

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)
ANALYSIS_FPS = 15.0  # vision.analysis_fps's default: the belt's travel is per analysed frame


def belt(
    pattern: str, period: float, travel: float, phases: tuple[Phase, ...], seed: int, **look
) -> Scenario:
    """A small clip of a `pattern` belt that moves `travel` periods per analysed frame."""
    return Scenario(
        phases,
        seed=seed,
        width=320,
        height=240,
        size_px=(34, 40),
        belt_pattern=pattern,
        belt_period_px=period,
        speed_px_s=travel * period * ANALYSIS_FPS,
        shake_px=1.5,
        noise_sigma=3.0,
        flicker=0.05,
        light_step=(0.5, -0.25),
        blur_px=4.0,
        **look,
    )


def replay(truth: GroundTruth) -> ListSink:
    sink = ListSink()
    pipeline = LinePipeline(parse_config(truth.config()), None, sink)
    with VideoFileSource(truth.path, T0) as source:
        while True:
            try:
                frame = source.read_if(pipeline.due)
            except EndOfStream:
                break
            pipeline.process(frame)
    pipeline.close()
    return sink


def parts(sink: ListSink) -> int:
    return sum(isinstance(e, PartEvent) for e in sink.events)


# (pattern, period px, travel per analysed frame in periods, more of the look)
EMPTY = [
    ("cleats", 120, 0.3, {}),
    ("cleats", 120, 0.7, {"belt_dirt": 0.1}),
    ("perforated", 64, 0.4, {"belt_dirt": 0.1}),
    ("perforated", 80, 0.7, {}),
    ("modular", 64, 0.65, {}),
    ("seams", 90, 0.4, {"belt_dirt": 0.1}),
]


@pytest.mark.parametrize(("pattern", "period", "travel", "look"), EMPTY)
def test_an_empty_running_patterned_belt_counts_nothing_and_is_starved(
    tmp_path, pattern: str, period: float, travel: float, look: dict
) -> None:
    phases = (Phase(4.0, feeding=False),)
    scenario = belt(pattern, period, travel, phases, seed=3 + len(look), **look)
    truth = render_line(scenario, tmp_path / "empty.mp4")
    sink = replay(truth)
    assert parts(sink) == 0
    stops = [e.reason for e in sink.events if isinstance(e, StateEvent) and e.state == "stopped"]
    assert stops == ["starved"]


CARRIED = [
    ("cleats", 120, 0.3, 5),
    ("cleats", 120, 0.6, 6),
    ("perforated", 64, 0.45, 5),
    ("perforated", 80, 0.7, 6),
    ("modular", 64, 0.35, 7),
    ("modular", 64, 0.7, 8),
]


@pytest.mark.parametrize(("pattern", "period", "travel", "seed"), CARRIED)
def test_parts_on_a_patterned_belt_are_counted_exactly(
    tmp_path, pattern: str, period: float, travel: float, seed: int
) -> None:
    scenario = belt(pattern, period, travel, (Phase(5.0),), seed=seed, belt_dirt=0.05)
    truth = render_line(scenario, tmp_path / "parts.mp4")
    assert len(truth.counted) >= 4
    assert parts(replay(truth)) == len(truth.counted)


def test_a_still_cleated_belt_is_no_part_once_it_has_moved(tmp_path) -> None:
    # the segmenter alone, fed the travel the flow would give: no pieces on the cleats
    scenario = belt("cleats", 120, 0.4, (Phase(1.5, feeding=False),), seed=7)
    truth = render_line(scenario, tmp_path / "cleats.mp4")
    config = parse_config(truth.config())
    assert config.vision is not None
    view = RoiView(config.vision.roi, config.vision.direction, (scenario.width, scenario.height))
    segmenter = BeltSegmenter(min_area=16)
    travel = scenario.speed_px_s * view.along / scenario.roi[2] / scenario.fps
    found = []
    for frame, _, _ in render_frames(scenario):
        _, blobs = segmenter.segment(view.work(frame), 0, travel)
        found.append(len(blobs))
    assert segmenter.repeat == pytest.approx(120 * view.along / scenario.roi[2], abs=1.0)
    assert np.count_nonzero(found[5:]) == 0
