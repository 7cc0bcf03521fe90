"""The belt under each view of a part, from the counter's belt model (#13).

On a patterned belt every view carries the learnt belt under its crop (what
`agent.inspection.register` tells the part from); on a plain belt none does (the
crop's border stands for the belt there). Rendered video through the real pipeline,
in two directions (the picture is turned back from the canonical work image).
"""

from datetime import UTC, datetime

import cv2
import numpy as np
import pytest

from agent.inspection import PartCrop
from agent.pipeline import replay_clip
from agent.sim.line import Phase, Scenario, render_line
from agent.sim.line import patterned_belt as belt

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)


def views_of(scenario: Scenario, path) -> list[PartCrop]:
    replayed = replay_clip(render_line(scenario, path), start_wall=T0)
    return [v for part in replayed.pipeline.counted for v in part.views]


def mismatch(view: PartCrop, picture: np.ndarray) -> float | None:
    """How far the crop is from the picture on its pattern (median, grey levels).

    On the pattern's pixels (those 30 levels from the picture's median colour) away
    from the part, where a misplaced picture puts cleats on plain belt and back.
    """
    part = (np.asarray(view.mask) > 0).view(np.uint8)
    away = cv2.dilate(part, np.ones((15, 15), np.uint8)) == 0
    if view.belt_known is not None:
        away &= view.belt_known
    picture = picture.astype(np.float32)
    plain = np.median(picture[away], axis=0)
    pattern = away & (np.abs(picture - plain).max(axis=2) > 30)
    if pattern.sum() < 20:
        return None
    apart = np.abs(view.image[pattern].astype(np.float32) - picture[pattern]).max(axis=1)
    return float(np.median(apart))


@pytest.mark.parametrize("direction", ["left_to_right", "bottom_to_top"])
def test_views_on_a_cleated_belt_carry_the_belt_under_them(tmp_path, direction: str) -> None:
    scenario = belt("cleats", 120, 0.3, (Phase(6.0),), seed=11, direction=direction)
    views = views_of(scenario, tmp_path / "cleats.mp4")
    known = [v for v in views if v.belt is not None]
    assert len(views) >= 8 and len(known) >= 0.7 * len(views)
    assert all(v.belt.shape == v.image.shape and v.belt.dtype == np.uint8 for v in known)
    # the cleats are where the picture has them: moved by 10 px, it would be far off
    here = [m for m in (mismatch(v, v.belt) for v in known) if m is not None]
    moved = [m for m in (mismatch(v, np.roll(v.belt, 10, axis=(0, 1))) for v in known) if m]
    assert len(here) >= 3 and len(moved) >= 2
    assert np.median(here) < 20
    assert np.median(moved) > 2 * np.median(here)
    # a view cut once the counter settled on the pattern has its picture (the one
    # without, bottom to top, was cut before: it says so)
    assert all(v.belt is not None for v in views if v.belt_settled)
    assert sum(v.belt_settled for v in views) >= len(views) - 1


def test_a_part_in_view_before_the_pattern_is_known_says_so(tmp_path) -> None:
    """The run's first part, in view from the first frame: cut while the counter still
    looked for a pattern, its views carry no belt and say the belt was not settled."""
    scenario = Scenario(
        (Phase(4.0),),
        seed=1031,
        size_px=(60.0, 70.0),
        designs=("washer",),
        colours=("brass",),
        belt_pattern="cleats",
        belt_period_px=120.0,
    )
    replayed = replay_clip(render_line(scenario, tmp_path / "early.mp4"), start_wall=T0)
    first, *later = replayed.pipeline.counted
    assert first.t < 1.0 and later
    assert all(not v.belt_settled and v.belt is None for v in first.views)
    assert all(v.belt_settled and v.belt is not None for part in later for v in part.views)


def test_the_segmenter_is_settled_only_once_its_picture_has_the_pattern(
    tmp_path, monkeypatch
) -> None:
    """Frame by frame: never settled without a picture on a patterned belt (the pattern
    is adopted a frame or two before the belt is first seen free of parts), and not
    settled again after `reset` (a gap in the footage) until it has looked again."""
    from agent.counting.segment import BeltSegmenter

    states: list[tuple[bool, bool]] = []
    segment = BeltSegmenter.segment

    def watched(self: BeltSegmenter, *args: object, **kwargs: object) -> object:
        out = segment(self, *args, **kwargs)  # type: ignore[arg-type]
        states.append((self.settled, self.picture(0, 8) is not None))
        return out

    monkeypatch.setattr(BeltSegmenter, "segment", watched)
    scenario = Scenario(
        (Phase(3.0),), seed=1031, designs=("washer",), belt_pattern="cleats", belt_period_px=120.0
    )
    replayed = replay_clip(render_line(scenario, tmp_path / "cleats.mp4"), start_wall=T0)
    assert not states[0][0] and states[-1] == (True, True)
    assert all(pictured for settled, pictured in states if settled)
    segmenter = replayed.pipeline.counter.segmenter
    segmenter.reset()
    assert not segmenter.settled and segmenter.picture(0, 8) is None
