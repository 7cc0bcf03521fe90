"""The simulator's stop causes: phases that say what they render, and their truth."""

import numpy as np
import pytest

from agent.sim.line import Phase, Scenario, render_frames, render_line


def test_a_phase_names_a_known_cause_and_view_and_halts_where_it_must() -> None:
    with pytest.raises(ValueError, match="unknown cause"):
        Phase(3.0, moving=False, cause="gremlins")
    with pytest.raises(ValueError, match="unknown view"):
        Phase(3.0, view="foggy")
    with pytest.raises(ValueError, match="halted"):
        Phase(3.0, moving=True, cause="jam")


def test_causes_are_the_phases_spans(tmp_path) -> None:
    phases = (Phase(1.0), Phase(1.0, moving=False, cause="jam"), Phase(0.5),
              Phase(1.0, cause="camera", view="covered"))  # fmt: skip
    truth = render_line(Scenario(phases, fps=10.0, width=320, height=240), tmp_path / "c.avi")
    assert [(s.start, s.end, s.reason) for s in truth.causes()] == [
        (1.0, 2.0, "jam"),
        (2.5, 3.5, "camera"),
    ]


def _frames(phase: Phase, seed: int = 3) -> list[np.ndarray]:
    scenario = Scenario((Phase(1.0), phase), seed=seed, fps=10.0)
    return [frame for frame, _, _ in render_frames(scenario)]


def test_a_covered_lens_is_dark_and_a_bumped_camera_looks_beside_the_belt() -> None:
    normal = _frames(Phase(0.5))
    covered = _frames(Phase(0.5, moving=False, cause="camera", view="covered"))
    bumped = _frames(Phase(0.5, cause="camera", view="bumped"))
    x, y, w, h = Scenario((Phase(1.0),)).roi
    roi = (slice(y, y + h), slice(x, x + w))
    assert covered[-1][roi].mean() < 0.3 * normal[-1][roi].mean()
    assert np.array_equal(covered[0], normal[0])  # before the cause, the same footage
    # the ROI now shows the floor (darker than the belt) instead of the belt
    assert bumped[-1][roi].mean() < 0.8 * normal[-1][roi].mean()


def test_a_blockage_queues_parts_back_from_the_outfeed_and_a_jam_piles_them() -> None:
    width = Scenario((Phase(1.0),)).width
    x, y, w, h = Scenario((Phase(1.0),)).roi
    belt = _frames(Phase(0.5, moving=False, cause="machine"))[-1][y : y + h].astype(int)

    def parts_at(frame: np.ndarray) -> np.ndarray:
        """Columns where the frame differs from the plain halt's (parts moved in)."""
        return np.abs(frame[y : y + h].astype(int) - belt).max(axis=(0, 2)) > 60

    blocked = parts_at(_frames(Phase(0.5, moving=False, cause="blocked"))[-1])
    assert blocked[width - 20 :].all()  # the queue starts at the outfeed's end
    assert blocked.mean() > 0.3
    jam = parts_at(_frames(Phase(0.5, moving=False, cause="jam"))[-1])
    assert not jam[width - 20 :].any() and 0.05 < jam.mean() < 0.5
