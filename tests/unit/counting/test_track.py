from datetime import UTC, datetime, timedelta

import pytest

from agent.counting import Blob
from agent.counting.track import Tracker
from agent.flow.stops import Stamp

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)
DT = 1 / 15


def stamp(i: int) -> Stamp:
    return Stamp(i * DT, T0 + timedelta(seconds=i * DT))


def blob(x: float, y: float = 20.0, half: float = 8.0, label: int = 1) -> Blob:
    return Blob(label, x, y, (int(x - half), int(y - half), int(x + half), int(y + half)), 200)


def run(tracker: Tracker, positions: list[list[float]], speed: float = 30.0):
    """positions[i]: centres seen in frame i; returns the crossing times."""
    times = []
    for i, xs in enumerate(positions):
        for crossing in tracker.update(
            [blob(x, label=k + 1) for k, x in enumerate(xs)], stamp(i), speed
        ):
            times.append(round(crossing.at.mono, 3))
    return times


def test_a_part_is_counted_once_at_the_interpolated_crossing() -> None:
    tracker = Tracker(along=160, count_at=0.5)
    # enters at the edge, 2 px a frame: crosses x=80 between frames 36 (79.5) and 37 (81.5)
    times = run(tracker, [[7.5 + 2 * i] for i in range(60)])
    assert times == [pytest.approx((36 + 0.25) * DT, abs=1e-3)]


def test_stopping_on_the_line_and_restarting_counts_once() -> None:
    tracker = Tracker(along=160, count_at=0.5)
    path = [7.5 + 2 * i for i in range(37)]  # up to 79.5
    path += [79.5 + (i % 2) * 0.8 for i in range(60)]  # halted, jittering across the line
    path += [80.3 + 2 * i for i in range(30)]
    times = run(tracker, [[x] for x in path], speed=0.0)
    assert len(times) == 1


def test_a_part_first_seen_past_the_line_is_not_counted() -> None:
    tracker = Tracker(along=160, count_at=0.5)
    frames = [[50.0 + 2 * i] for i in range(5)]
    frames += [[50.0 + 2 * i, 100.0 + 2 * i] for i in range(5, 30)]  # appears mid-ROI
    # only the first part, which crosses x=80 at frame 15, is counted
    assert run(tracker, frames) == [pytest.approx(15 * DT, abs=1e-3)]


def test_a_piece_that_splits_off_is_not_a_second_part() -> None:
    tracker = Tracker(along=160, count_at=0.5)
    frames = []
    for i in range(60):
        x = 7.5 + 2 * i
        # every fourth frame the part falls apart into two pieces
        frames.append([x - 5, x + 5] if i % 4 == 0 and 20 < x < 120 else [x])
    assert len(run(tracker, frames)) == 1


def test_touching_parts_merged_across_the_line_both_count() -> None:
    tracker = Tracker(along=160, count_at=0.5)
    frames = []
    for i in range(70):
        a, b = 20 + 2 * i, 4 + 2 * i  # two parts 16 px apart, seen apart at first
        frames.append([a, b] if a < 60 else [(a + b) / 2])  # then merged for good
    tracker_blobs = []
    for xs in frames:
        if len(xs) == 1:
            merged = Blob(1, xs[0], 20.0, (int(xs[0] - 16), 12, int(xs[0] + 16), 28), 400)
            tracker_blobs.append([merged])
        else:
            tracker_blobs.append([blob(x, label=k + 1) for k, x in enumerate(xs)])
    crossings = []
    for i, blobs in enumerate(tracker_blobs):
        crossings += tracker.update(blobs, stamp(i), 30.0)
    assert len(crossings) == 2
    assert crossings[0].at.mono == pytest.approx(30 * DT, abs=2 * DT)
    assert crossings[1].at.mono == pytest.approx(38 * DT, abs=2 * DT)


def crossings_of_a_part_coming_in_as_two_pieces(tracker: Tracker) -> int:
    """A part comes in as two small pieces (an L's arms), seen twice, then whole."""
    crossings = 0
    for i in range(70):
        x = 4 + 2 * i
        if i < 2:
            blobs = [
                Blob(k + 1, x, y, (0, int(y - 3), int(x + 3), int(y + 3)), 40)
                for k, y in enumerate((14.0, 26.0))
            ]
        else:
            blobs = [Blob(1, x, 20.0, (int(x - 8), 12, int(x + 8), 28), 200)]
        crossings += len(tracker.update(blobs, stamp(i), 30.0))
    return crossings


def test_two_pieces_of_one_part_coming_in_are_one_part_once_its_area_is_known() -> None:
    tracker = Tracker(along=160, count_at=0.5)
    tracker.part_area = 200.0  # (unknown, the two pieces were each other's measure)
    assert crossings_of_a_part_coming_in_as_two_pieces(tracker) == 1


def test_two_pieces_of_one_part_coming_in_are_one_part_against_the_pieces_seen_lately() -> None:
    # as above, before the single part's area is known: whole pieces seen lately are
    # the measure (each piece was the other's, and both were counted)
    tracker = Tracker(along=160, count_at=0.5)
    tracker.piece_area = 200.0
    assert crossings_of_a_part_coming_in_as_two_pieces(tracker) == 1


def crossings_with(areas_of: list[list[int]], part_area: float | None = None) -> list[int]:
    """Three things travelling 2 px a frame from x = 20, 40, 60, each with its area per
    frame (cycled); returns which of them crossed the line and were counted."""
    tracker = Tracker(along=160, count_at=0.5)
    tracker.part_area = part_area
    counted = []
    for i in range(40):
        blobs = []
        for k, areas in enumerate(areas_of):
            x = 20.0 + 20 * k + 2 * i
            half = 8.0 if areas[i % len(areas)] >= 100 else 4.0
            box = (int(x - half), int(20 - half), int(x + half), int(20 + half))
            blobs.append(Blob(k + 1, x, 20.0, box, areas[i % len(areas)]))
        for crossing in tracker.update(blobs, stamp(i), 30.0):
            counted.append(round((crossing.track.x - 2 * i - 20) / 20))
    return sorted(counted)


PART = [200, 210, 195, 205]


@pytest.mark.parametrize("part_area", [None, 200.0])
def test_a_fragment_of_the_belt_travelling_with_it_is_not_counted(part_area) -> None:
    # dirt or a faint pattern's piece standing out now and then: its area jumps
    flicker = [30, 120, 50, 95, 40, 110]
    assert crossings_with([PART, flicker, PART], part_area) == [0, 2]


@pytest.mark.parametrize("small", [[60, 64, 58, 62], [90, 150, 95, 140]])
def test_a_small_part_or_one_seen_unevenly_is_still_counted(small) -> None:
    # steady, however small, or under half a part only now and then: a part
    assert crossings_with([PART, small, PART]) == [0, 1, 2]


def crossings_of_a_part_cut_in_two_for_a_while(tracker: Tracker) -> int:
    """A part seen whole, then for four frames as two pieces cut by size (a flash of
    light merged it with the belt and the counter cut the piece in two: each piece then
    followed as a part), then whole again, across the line."""
    crossings = 0
    for i in range(70):
        x = 20 + 2 * i
        if 6 <= i < 10:
            blobs = [
                Blob(
                    k + 1,
                    x + dx,
                    20.0,
                    (int(x + dx - 4), 12, int(x + dx + 4), 28),
                    150,
                    guessed=True,
                )
                for k, dx in enumerate((-4, 4))
            ]
        else:
            blobs = [Blob(1, x, 20.0, (int(x - 8), 12, int(x + 8), 28), 200)]
        crossings += len(tracker.update(blobs, stamp(i), 30.0))
    return crossings


def test_a_blob_with_room_for_one_part_holds_one() -> None:
    """Once parts are known to be alike (one part under 300 px here), a blob seen whole
    and on its own with one part's area is one part, whatever tracks followed pieces of
    it: the longest-followed goes on, the others were pieces (everything, offset 7: a
    part counted twice at 22.5 s). Before parts are known alike, both are counted."""
    tracker = Tracker(along=160, count_at=0.5)
    tracker.part_area = 200.0
    assert crossings_of_a_part_cut_in_two_for_a_while(tracker) == 2
    tracker = Tracker(along=160, count_at=0.5)
    tracker.part_area = 200.0
    tracker.one_part_below = 300.0
    assert crossings_of_a_part_cut_in_two_for_a_while(tracker) == 1


def test_touching_parts_merged_with_room_for_two_both_count() -> None:
    """Two parts edge to edge merged in one blob of two parts' area: both count."""
    tracker = Tracker(along=160, count_at=0.5)
    tracker.part_area = 200.0
    tracker.one_part_below = 300.0
    crossings = 0
    for i in range(70):
        a, b = 20 + 2 * i, 4 + 2 * i
        if a < 60:
            blobs = [blob(a, label=1), blob(b, label=2)]
        else:
            centre = (a + b) / 2
            blobs = [Blob(1, centre, 20.0, (int(centre - 16), 12, int(centre + 16), 28), 400)]
        crossings += len(tracker.update(blobs, stamp(i), 30.0))
    assert crossings == 2
