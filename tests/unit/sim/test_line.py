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


def _gaps(scenario: Scenario) -> list[float]:
    """Belt-offset distance between consecutive parts' facing edges, in plan order."""
    truths, sprites = plan_parts(scenario)
    extents = []
    for sprite in sprites:
        cols = np.nonzero((sprite.mask > 127).any(axis=0))[0]
        extents.append((sprite.centre[0] - cols[0], cols[-1] + 1 - sprite.centre[0]))
    return [
        (b.belt_offset - extents[i + 1][1]) - (a.belt_offset + extents[i][0])
        for i, (a, b) in enumerate(zip(truths, truths[1:], strict=False))
    ]


def test_a_released_queue_brings_parts_edge_to_edge_and_then_spaces_them() -> None:
    spaced = Scenario(phases=(Phase(4.0), Phase(2.0, moving=False), Phase(8.0)), seed=5)
    queued = Scenario(
        phases=(Phase(4.0), Phase(2.0, moving=False), Phase(8.0, queue_s=2.5)), seed=5
    )
    assert min(_gaps(spaced)) >= 12.0
    gaps = _gaps(queued)
    touching = [g for g in gaps if g <= 2.0]
    # 2.5 s of belt at 160 px/s is 400 px of ~70 px parts: about five in a row
    assert len(touching) >= 4
    assert max(gaps[-3:]) >= 12.0  # after the queue, parts are spaced again


def test_speed_drift_changes_the_speed_and_keeps_crossings_consistent() -> None:
    from agent.sim.line import _Belt

    scenario = Scenario(phases=(Phase(30.0),), seed=2, speed_drift=0.3)
    belt = _Belt(scenario)
    speeds = [belt.speed_at(t) for t in np.arange(0.0, 30.0, 0.5)]
    assert min(speeds) < 0.8 * 160 and max(speeds) > 1.2 * 160
    # positions are the integral of the speed, and time_at inverts position
    for t in (1.0, 7.3, 19.9):
        numeric = (belt.position(t + 1e-3) - belt.position(t - 1e-3)) / 2e-3
        assert numeric == pytest.approx(belt.speed_at(t), rel=1e-3)
        assert belt.time_at(belt.position(t)) == pytest.approx(t, abs=1e-5)
    truths, _ = plan_parts(scenario)
    crossings = [p.t_count for p in truths if p.t_count is not None]
    assert crossings == sorted(crossings) and len(crossings) > 20


def test_light_step_and_blur_change_the_frames_where_and_when_they_should() -> None:
    phases = (Phase(1.0), Phase(1.0, moving=False))
    plain = [f for f, _, _ in render_frames(Scenario(phases=phases, seed=4, noise_sigma=0))]
    stepped = Scenario(phases=phases, seed=4, noise_sigma=0, light_step=(0.5, -0.3))
    dark = [f for f, _, _ in render_frames(stepped)]
    before, after = 10, 50  # frames at 0.33 s and 1.67 s of 2 s
    assert np.array_equal(plain[before], dark[before])
    ratio = dark[after].mean() / plain[after].mean()
    assert ratio == pytest.approx(0.7, abs=0.03)
    blurred = [
        f for f, _, _ in render_frames(Scenario(phases=phases, seed=4, noise_sigma=0, blur_px=9))
    ]

    def sharpness(image: np.ndarray) -> float:
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
        return float(np.abs(np.diff(grey, axis=1)).mean())

    assert sharpness(blurred[before]) < 0.8 * sharpness(plain[before])  # moving: smeared
    assert np.array_equal(blurred[after], plain[after])  # halted: sharp
