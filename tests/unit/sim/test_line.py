from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.sim.line import DIRECTIONS, Phase, Scenario, plan_parts, render_frames, render_line


def small(direction: str = "left_to_right", **kw) -> Scenario:
    phases = (Phase(2.0), Phase(2.5, moving=False), Phase(1.5))
    return Scenario(
        phases,
        seed=3,
        width=320,
        height=240,
        size_px=(36, 44),
        direction=direction,
        speed_px_s=120,
        **kw,
    )


def test_rendered_video_matches_its_truth(tmp_path: Path) -> None:
    truth = render_line(small(), tmp_path / "line.mp4")
    capture = cv2.VideoCapture(str(truth.path))
    frames = 0
    while capture.read()[0]:
        frames += 1
    assert frames == truth.frames == 180
    assert truth.stops() == [type(truth.stops()[0])(2.0, 4.5, None)]
    times = [p.t_count for p in truth.counted]
    assert times == sorted(times) and all(0 <= t < 6.0 for t in times)
    # no part crosses while the belt is halted
    assert not [t for t in times if 2.0 < t < 4.5]


def test_same_seed_same_plan_and_parts_never_overlap() -> None:
    scenario = small(touching_rate=0.5, designs=("washer", "bracket", "angle", "hex"))
    a, _ = plan_parts(scenario)
    b, _ = plan_parts(scenario)
    assert [(p.spec, p.belt_offset) for p in a] == [(p.spec, p.belt_offset) for p in b]
    offsets = [p.belt_offset for p in a]
    assert offsets == sorted(offsets)
    assert all(b2 - b1 > 10 for b1, b2 in zip(offsets, offsets[1:], strict=False))


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_every_direction_moves_parts_the_right_way(direction: str) -> None:
    scenario = small(direction, noise_sigma=0)
    frames = render_frames(scenario)
    first = next(frames)[0]
    for _ in range(3):
        later = next(frames)[0]
    assert first.shape == later.shape == (240, 320, 3)
    x, y, w, h = scenario.roi

    def grey(image: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(image[y : y + h, x : x + w], cv2.COLOR_BGR2GRAY).astype(np.float32)

    (dx, dy), _ = cv2.phaseCorrelate(grey(first), grey(later))
    expected = {
        "left_to_right": (12, 0),
        "right_to_left": (-12, 0),
        "top_to_bottom": (0, 12),
        "bottom_to_top": (0, -12),
    }[direction]
    assert (dx, dy) == pytest.approx(expected, abs=1.0)


def test_starvation_is_a_starved_stop_in_the_truth(tmp_path: Path) -> None:
    scenario = Scenario(
        (Phase(3.0), Phase(6.0, feeding=False), Phase(2.0)),
        width=320,
        height=240,
        size_px=(36, 44),
        speed_px_s=120,
        seed=1,
    )
    truth = render_line(scenario, tmp_path / "starve.mp4")
    stops = truth.stops(stop_after_s=2.0)
    assert [s.reason for s in stops] == ["starved"]
    assert 3.0 < stops[0].start < 6.5 and stops[0].end == pytest.approx(9.0, abs=0.1)
