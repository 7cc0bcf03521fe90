"""Time is injected: durations from a monotonic clock, wall time only to label events."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """The two clocks every stage reads, never `time` directly."""

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps (durations)."""
        ...

    def wall(self) -> datetime:
        """The wall time now, time-zone aware (labels)."""
        ...


class SystemClock:
    """The machine's clocks."""

    def monotonic(self) -> float:
        """`time.monotonic()`."""
        return time.monotonic()

    def wall(self) -> datetime:
        """`datetime.now(UTC)`."""
        return datetime.now(UTC)


@dataclass
class ManualClock:
    """A clock tests and replays move by hand: wall = start + monotonic."""

    start: datetime
    now: float = 0.0

    def monotonic(self) -> float:
        """Seconds since the start."""
        return self.now

    def wall(self) -> datetime:
        """`start + now`."""
        return self.start + timedelta(seconds=self.now)

    def advance(self, seconds: float) -> None:
        """Move time forward (never back)."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        self.now += seconds
