"""The daemon's time line: wall-time labels that follow the monotonic clock.

Frames are stamped by the capture clock; event wall times come from `WallLabels`,
which follows the monotonic clock from an anchor. A wall clock stepped forward (NTP
after a boot without a real-time clock) moves the labels forward; a wall clock
stepped back is not followed, so time never runs backwards or counts twice
(docs/deploy.md, "Time").
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from agent.clock import Clock

#: A wall clock this far from the monotonic time line counts as stepped.
STEP_S = 2.0


@dataclass(frozen=True, slots=True)
class ClockStep:
    """The system clock was found `offset_s` away from the time line at `mono`."""

    mono: float
    offset_s: float
    #: The label of `mono` before and after the step (equal for a step back).
    label_before: datetime
    label_after: datetime

    def to_json(self) -> dict[str, Any]:
        """For the store's meta and logs."""
        return {
            "offset_s": round(self.offset_s, 3),
            "label_before": self.label_before.isoformat(),
            "label_after": self.label_after.isoformat(),
        }


class WallLabels:
    """Wall-time labels that follow the monotonic clock from an anchor; never backwards.

    `check()` compares the system clock with where it should be since the last check; a
    difference over `step_s` is a step. The labels then move to the system clock only
    forward (a step back would relabel the past and count time twice); after a step back
    they run ahead of the system clock by the step, until the agent restarts.
    Thread-safe: the pipeline thread labels and checks, the supervisor labels.
    """

    def __init__(self, clock: Clock, step_s: float = STEP_S) -> None:
        self.clock = clock
        self.step_s = step_s
        self._lock = threading.Lock()
        mono, wall = clock.monotonic(), clock.wall()
        self._anchor = (mono, wall)  # labels
        self._ref = (mono, wall)  # what the system clock should read, for step detection
        self.steps: list[ClockStep] = []
        #: Seconds the labels run ahead of the system clock (after steps back).
        self.ahead_s = 0.0

    def label(self, mono: float) -> datetime:
        """The wall time of monotonic instant `mono`."""
        anchor_mono, anchor_wall = self._anchor
        return anchor_wall + timedelta(seconds=mono - anchor_mono)

    def not_before(self, ts: datetime) -> bool:
        """Make labels from now on later than `ts` (the store's last event).

        A board without a real-time clock may boot with a clock behind the events it
        stored before a power cut; new events must still come after them. True when the
        labels had to be moved.
        """
        with self._lock:
            mono = self.clock.monotonic()
            now = self.label(mono)
            if now > ts:
                return False
            self._anchor = (mono, ts + timedelta(milliseconds=1))
            self.ahead_s = (self._anchor[1] - self.clock.wall()).total_seconds()
            return True

    def check(self) -> ClockStep | None:
        """The step of the system clock since the last check, or None."""
        with self._lock:
            mono, wall = self.clock.monotonic(), self.clock.wall()
            ref_mono, ref_wall = self._ref
            offset = (wall - ref_wall).total_seconds() - (mono - ref_mono)
            self._ref = (mono, wall)
            if abs(offset) < self.step_s:
                return None
            before = self.label(mono)
            after = max(before, wall)
            self._anchor = (mono, after)
            self.ahead_s = (after - wall).total_seconds()
            step = ClockStep(mono, offset, before, after)
            self.steps.append(step)
            return step
