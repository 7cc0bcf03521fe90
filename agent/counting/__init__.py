"""Counting: find parts in the ROI, track them along the flow, count each once.

Stage interface: a `Counter` takes each frame (the ROI at the work resolution, turned
so parts flow along +x, plus the full-resolution frame for crops) and returns the
parts whose centre crossed `count_at` and whose views are complete, as `CountedPart`s
carrying `PartCrop`s for inspection (made when first read: see `PartCounter`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import numpy as np

from agent.flow.stops import Stamp
from agent.inspection import PartCrop


@dataclass(frozen=True, slots=True)
class Blob:
    """A part found in one frame, in canonical work-resolution pixels (x along the flow)."""

    label: int
    x: float  # centre along the flow
    y: float  # centre across the flow
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (end exclusive)
    area: int
    #: Split from a piece it shared with touching parts in this frame.
    touching: bool = False
    #: Cut from a merged piece by size alone (no outline showed where): a guess.
    guessed: bool = False

    @property
    def length(self) -> int:
        """Extent along the flow."""
        return self.box[2] - self.box[0]

    @property
    def width(self) -> int:
        """Extent across the flow."""
        return self.box[3] - self.box[1]


@dataclass(frozen=True)
class CountedPart:
    """A part counted when its centre crossed `count_at`."""

    #: Seconds from the first frame to the crossing.
    t: float
    #: When it crossed (monotonic and wall).
    at: Stamp
    #: Views of the part in frames around its crossing, for inspection.
    views: Sequence[PartCrop] = field(default_factory=list)
    #: Seconds since the previous part crossed (the measured cycle time), None for the first.
    cycle_s: float | None = None
    #: The tracker's id for it (unique within one run).
    track_id: int = 0
    #: Counted from a merged blob that could not be separated into parts (a guess from
    #: the blob's size, not a part seen on its own); published as `"uncertain": true`.
    uncertain: bool = False

    @property
    def wall(self) -> datetime:
        """Wall time of the crossing."""
        return self.at.wall


class Counter(Protocol):
    """Counts parts frame by frame."""

    def wants(self, now: Stamp, belt_speed: float, moving: bool) -> bool:
        """Whether this analysed frame needs counting (False: flow alone will do).

        `moving` is the flow's verdict: on a halted belt no part comes to the line.
        """
        ...

    def process(
        self, work: np.ndarray, frame: np.ndarray, now: Stamp, belt_speed: float
    ) -> list[CountedPart]:
        """One frame: canonical work-resolution ROI, full frame, its stamp, belt speed.

        `belt_speed` is the flow's speed in ROI lengths per second (for prediction).
        """
        ...

    @property
    def parts_in_view(self) -> bool:
        """Whether a confirmed part is in the ROI now."""
        ...

    def flush(self) -> list[CountedPart]:
        """Hand over counted parts still waiting for views."""
        ...
