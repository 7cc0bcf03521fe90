"""WallLabels: one time line from the monotonic clock, whatever the wall clock does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agent.clock import ManualClock
from agent.timeline import WallLabels

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)


class SteppableClock(ManualClock):
    offset: float = 0.0

    def wall(self) -> datetime:
        return super().wall() + timedelta(seconds=self.offset)


def test_labels_follow_the_monotonic_clock_without_steps() -> None:
    clock = SteppableClock(T0)
    labels = WallLabels(clock)
    clock.advance(10)
    assert labels.check() is None
    assert labels.label(clock.monotonic()) == T0 + timedelta(seconds=10)
    clock.offset = 1.5  # NTP slewing or a small step: below the threshold, not followed
    assert labels.check() is None
    assert labels.steps == []


def test_a_forward_step_moves_the_time_line_forward_once() -> None:
    clock = SteppableClock(T0)
    labels = WallLabels(clock)
    clock.advance(5)
    clock.offset = 3600
    step = labels.check()
    assert step is not None and step.offset_s == 3600
    assert step.label_before == T0 + timedelta(seconds=5)
    assert step.label_after == T0 + timedelta(seconds=3605)
    assert labels.check() is None  # reported once, not at every check
    clock.advance(1)
    assert labels.label(clock.monotonic()) == T0 + timedelta(seconds=3606)
    assert labels.ahead_s == 0


def test_a_backward_step_keeps_the_time_line_and_is_reported_once() -> None:
    clock = SteppableClock(T0)
    labels = WallLabels(clock)
    clock.advance(5)
    before = labels.label(clock.monotonic())
    clock.offset = -3600
    step = labels.check()
    assert step is not None and step.offset_s == -3600
    assert step.label_after == step.label_before == before
    assert labels.check() is None
    clock.advance(2)
    assert labels.label(clock.monotonic()) == before + timedelta(seconds=2)
    assert labels.ahead_s == 3600
    # the clock is put right again: the labels carry on, nothing jumps back or forward
    clock.offset = 0
    step = labels.check()
    assert step is not None and step.label_after == step.label_before
    assert labels.ahead_s == 0


def test_labels_start_after_the_last_stored_event() -> None:
    clock = SteppableClock(T0)
    labels = WallLabels(clock)
    later = T0 + timedelta(hours=2)
    assert labels.not_before(later)
    assert labels.label(clock.monotonic()) > later
    assert not labels.not_before(T0)
    assert labels.ahead_s > 7199
