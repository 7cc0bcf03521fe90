"""The belt under each view of a part, from the counter's belt model (#13).

On a patterned belt every view carries the learnt belt under its crop (what
`agent.inspection.register` tells the part from); on a plain belt none does (the
crop's border stands for the belt there). Rendered video through the real pipeline,
in two directions (the picture is turned back from the canonical work image).
"""

from dataclasses import replace
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest

from agent.inspection import PartCrop, Verdict
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


def early(duration: float) -> Scenario:
    """The first part in view from the first frame, on a cleated belt."""
    return Scenario(
        (Phase(duration),),
        seed=1031,
        size_px=(60.0, 70.0),
        designs=("washer",),
        colours=("brass",),
        belt_pattern="cleats",
        belt_period_px=120.0,
    )


def test_a_part_cut_before_the_pattern_was_known_takes_it_as_it_lay_then(tmp_path) -> None:
    """The run's first part, cut while the counter still looked for a pattern, waits
    until it is known and then carries the belt as it lay under each of its views
    (the phase matched again: moved by 10 px it would be far off); the parts after it
    are handed on behind it, in order."""
    replayed = replay_clip(render_line(early(4.0), tmp_path / "early.mp4"), start_wall=T0)
    first, *later = replayed.pipeline.counted
    assert first.t < 1.0 and later
    assert all(v.belt_settled and v.belt is not None for v in first.views)
    here = [m for m in (mismatch(v, v.belt) for v in first.views) if m is not None]
    moved = [m for m in (mismatch(v, np.roll(v.belt, 10, axis=(0, 1))) for v in first.views)]
    assert len(here) >= 3 and np.median(here) < 20
    assert np.median([m for m in moved if m is not None]) > 2 * np.median(here)
    assert all(v.belt_settled and v.belt is not None for part in later for v in part.views)
    crossed = [p.t for p in replayed.pipeline.counted]
    assert crossed == sorted(crossed)


def test_a_part_whose_belt_never_became_known_says_so(tmp_path) -> None:
    """Footage that ends before the counter knew the belt: the part is handed on at the
    end, its views without a belt and saying the belt was not settled."""
    replayed = replay_clip(render_line(early(1.0), tmp_path / "short.mp4"), start_wall=T0)
    (first,) = replayed.pipeline.counted
    assert not replayed.pipeline.counter.segmenter.settled
    assert all(not v.belt_settled and v.belt is None for v in first.views)


class _Judging:
    """An inspector that passes every part, taught on a patterned belt or not."""

    enabled = True

    def __init__(self, patterned_belt: bool) -> None:
        self.patterned_belt = patterned_belt

    def inspect(self, views):  # type: ignore[no-untyped-def]
        return Verdict(good=True, score=0.1)


def test_a_line_taught_on_a_patterned_belt_holds_its_first_part_until_it_knows_the_belt(
    tmp_path,
) -> None:
    """A part on the count line in the first frame of a modular belt is handed on before
    the counter noted the belt's pattern: on a line not known to be patterned it goes
    on, its views saying the belt was not settled (a patterned line's inspector leaves
    such views unjudged); on a line taught on a patterned belt (its inspector says so)
    it waits until the belt is known, and its views carry it (as it lay then: the
    phase, as `test_a_part_cut_before_the_pattern_was_known_takes_it_as_it_lay_then`
    shows on cleats)."""
    scenario = replace(early(3.0), seed=19, belt_pattern="modular", belt_period_px=45.0)
    truth = render_line(scenario, tmp_path / "modular.mp4")
    unsure, sure = (
        replay_clip(truth, None, _Judging(patterned), start_wall=T0).pipeline.counted[0]
        for patterned in (False, True)
    )
    assert unsure.t == sure.t < 0.3
    assert not any(v.belt_settled for v in unsure.views)
    assert all(v.belt_settled and v.belt is not None for v in sure.views)


def handed_on(monkeypatch) -> list[tuple[float, float]]:
    """(when, crossed) of each part the counter hands on from a frame (not at the end)."""
    from agent.counting import counter

    handed: list[tuple[float, float]] = []
    process = counter.PartCounter.process

    def watched(self, work, frame, now, speed):  # type: ignore[no-untyped-def]
        out = process(self, work, frame, now, speed)
        handed.extend((now.mono, p.at.mono) for p in out)
        return out

    monkeypatch.setattr(counter.PartCounter, "process", watched)
    return handed


def test_on_a_plain_belt_no_part_waits(tmp_path, monkeypatch) -> None:
    """No pattern to wait for: the first part, cut while the counter still looked for
    one, is handed on as soon as its views are in (its views say the belt was not
    settled; a plain belt's views carry no belt either way)."""
    handed = handed_on(monkeypatch)
    plain = replace(early(4.0), belt_pattern="seams")
    replayed = replay_clip(render_line(plain, tmp_path / "plain.mp4"), start_wall=T0)
    first = replayed.pipeline.counted[0]
    assert first.t < 1.0 and not any(v.belt_settled for v in first.views)
    assert all(v.belt is None for part in replayed.pipeline.counted for v in part.views)
    assert len(handed) == len(replayed.pipeline.counted)
    assert all(when - crossed < 0.6 for when, crossed in handed)


def test_a_part_waiting_when_the_belt_model_starts_again_goes_on_without(
    tmp_path, monkeypatch
) -> None:
    """A gap in the footage starts the belt model again (`reset`): a part waiting for
    the old one's pattern is handed on at once, its views saying the belt was not
    settled (the new model knows nothing of where the old belt was)."""
    from agent.counting import counter

    process = counter.PartCounter.process
    restarted: list[float] = []

    def watched(self, work, frame, now, speed):  # type: ignore[no-untyped-def]
        if self._waiting and not restarted:
            self.segmenter.reset()  # as the pipeline does after a gap
            restarted.append(now.mono)
        return process(self, work, frame, now, speed)

    monkeypatch.setattr(counter.PartCounter, "process", watched)
    handed = handed_on(monkeypatch)
    replayed = replay_clip(render_line(early(4.0), tmp_path / "gap.mp4"), start_wall=T0)
    first = replayed.pipeline.counted[0]
    assert restarted and first.t < 1.0
    assert all(not v.belt_settled and v.belt is None for v in first.views)
    assert handed[0][1] == first.at.mono and handed[0][0] == restarted[0]


def test_a_part_waits_for_the_belt_only_so_long(tmp_path, monkeypatch) -> None:
    """A belt whose kind never becomes known (a pattern's trial waiting on a halted
    belt) holds no part back more than `_WAIT_S`: each is handed on by then, in order,
    saying the belt was not settled."""
    from agent.counting import counter
    from agent.counting.segment import BeltSegmenter

    monkeypatch.setattr(BeltSegmenter, "settled", property(lambda self: False))
    handed = handed_on(monkeypatch)
    replayed = replay_clip(render_line(early(14.0), tmp_path / "long.mp4"), start_wall=T0)
    parts = replayed.pipeline.counted
    assert len(parts) >= 8 and len(handed) >= 3
    assert all(when - crossed <= counter._WAIT_S + 0.2 for when, crossed in handed)
    assert max(when - crossed for when, crossed in handed) >= counter._WAIT_S - 1.0
    assert [p.t for p in parts] == sorted(p.t for p in parts)
    assert all(not v.belt_settled and v.belt is None for p in parts for v in p.views)


def test_views_cut_while_the_picture_was_young_take_it_grown(tmp_path, monkeypatch) -> None:
    """Once the pattern is adopted its picture is young (its phases seen free of parts
    only a few times) for a second or two, then grown for good. A part cut meanwhile is
    handed on once the phases under each view were seen `_SIGHTINGS` times (or the
    picture grew up), its views taking the picture as it is then, at the phase each
    was cut at (aligned: moved by 10 px it would be far off); later parts do not wait."""
    from agent.counting import counter, segment

    ages: list[bool] = []  # `young`, frame by frame
    rebuilt: list[tuple[PartCrop, PartCrop]] = []  # (as cut, as handed on)
    seg_segment, with_belt = segment.BeltSegmenter.segment, counter.PartCounter._with_belt

    def watched_segment(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        out = seg_segment(self, *args, **kwargs)
        ages.append(self.young)
        return out

    def watched_with_belt(self, seen):  # type: ignore[no-untyped-def]
        out = with_belt(self, seen)
        for before, after in zip(seen, out, strict=True):
            cut = before.cut
            if cut.later is not None and cut.belt_settled:
                box, pad, moment = cut.later
                a0, c0, a1, c1 = self._belt_box(box, pad)
                assert self.segmenter.seen_enough(a0, a1, (c0, c1), moment)
                rebuilt.append((self._view(before), self._view(after)))
        return out

    monkeypatch.setattr(segment.BeltSegmenter, "segment", watched_segment)
    monkeypatch.setattr(counter.PartCounter, "_with_belt", watched_with_belt)
    handed = handed_on(monkeypatch)
    replay_clip(render_line(early(8.0), tmp_path / "young.mp4"), start_wall=T0)
    first_young = ages.index(True)
    grown = first_young + ages[first_young:].index(False)
    assert not any(ages[grown:]) and grown < len(ages) // 2
    assert len(rebuilt) >= 5
    assert any(not np.array_equal(before.belt, after.belt) for before, after in rebuilt)
    here = [m for m in (mismatch(v, v.belt) for _, v in rebuilt) if m is not None]
    moved = [mismatch(v, np.roll(v.belt, 10, axis=(0, 1))) for _, v in rebuilt]
    assert len(here) >= 3 and np.median(here) < 20
    assert np.median([m for m in moved if m is not None]) > 2 * np.median(here)
    assert all(when - crossed < 0.6 for when, crossed in handed[-3:])  # grown: no wait


def test_a_picture_whose_phases_stay_hidden_grows_up_all_the_same(tmp_path, monkeypatch) -> None:
    """Phases parts keep hidden are never seen more: whatever share of them stays
    unseen (here: none counts as enough), the picture is young for `_GROWN_BY`
    learning frames only, and then no part waits."""
    from agent.counting import segment

    monkeypatch.setattr(segment, "_GROWN", 1.01)  # never grown up by its share
    ages: list[bool] = []
    seg_segment = segment.BeltSegmenter.segment

    def watched_segment(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        out = seg_segment(self, *args, **kwargs)
        ages.append(self.young)
        return out

    monkeypatch.setattr(segment.BeltSegmenter, "segment", watched_segment)
    handed = handed_on(monkeypatch)
    replay_clip(render_line(early(12.0), tmp_path / "hidden.mp4"), start_wall=T0)
    first_young = ages.index(True)
    grown = first_young + ages[first_young:].index(False)
    assert not any(ages[grown:])
    # every third segmented frame learns: the young stretch is about 3 x _GROWN_BY of them
    assert 2 * segment._GROWN_BY <= grown - first_young <= 4 * segment._GROWN_BY
    assert all(when - crossed < 0.6 for when, crossed in handed[-3:])


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
