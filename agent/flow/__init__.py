"""Flow: is the line moving in the ROI, from cheap downscaled motion.

Stage interface: a `FlowDetector` looks at each frame's ROI (grey, at the work
resolution, turned so parts flow along +x) and says how fast the belt moves and whether
that counts as moving. `agent.flow.stops.StopDetector` turns those readings, and
whether any part is in view, into stops (`stopped`, or `stopped` with reason `starved`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True, slots=True)
class FlowReading:
    """One frame's flow: the belt's speed along the flow and the verdict."""

    #: Belt speed along the flow, in ROI lengths per second (negative: backwards).
    speed: float
    #: Fraction of ROI pixels that changed against the running background.
    energy: float
    #: Whether the line counts as moving in this frame.
    moving: bool


class FlowDetector(Protocol):
    """Says, frame by frame, whether the line moves."""

    def update(self, grey: np.ndarray, mono: float) -> FlowReading:
        """Take one frame's canonical ROI (uint8, cross x along) stamped `mono` seconds."""
        ...
