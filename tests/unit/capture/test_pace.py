"""A recording played as a camera keeps its frame rate (`next_due`)."""

from __future__ import annotations

import pytest

from agent.capture.reader import CAMERA_BUFFERS, next_due


def _play(reads: int, pace_s: float, late_s: float, read_s: float) -> float:
    """The seconds `reads` paced reads take when every wake-up is `late_s` late."""
    now = due = 0.0
    for _ in range(reads):
        now += read_s  # the read itself
        due = next_due(due, now, pace_s)
        now = max(now, due) + late_s  # the wait, and the scheduler's lateness
    return now


@pytest.mark.parametrize("late_s", [0.0, 0.0005, 0.001, 0.004])
def test_late_wake_ups_do_not_slow_the_frame_rate(late_s: float) -> None:
    pace = 1 / 60
    took = _play(600, pace, late_s, read_s=0.002)
    assert took == pytest.approx(600 * pace, abs=2 * pace)  # 60 fps, not 56


def test_after_a_stall_a_camera_buffers_worth_is_made_up_not_a_burst() -> None:
    pace = 0.1
    due = next_due(0.0, 5.0, pace)  # the read due at 0 returned 5 s late
    assert due == pytest.approx(5.0 - CAMERA_BUFFERS * pace)
    now, made_up = 5.0, 0
    while due < now - 1e-9:  # reads without waiting, each one pace later on the grid
        made_up += 1
        due = next_due(due, now, pace)
    assert made_up == CAMERA_BUFFERS  # then the reads are on their pace again
    assert next_due(due, now, pace) == pytest.approx(due + pace)
