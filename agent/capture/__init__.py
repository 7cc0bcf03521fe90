"""Capture: frames from a camera, a stream or a recording, each stamped with time.

Stage interface: a `FrameSource` yields `Frame`s; `None` from `read` means no frame
within the timeout (a stall the watchdog handles), `EndOfStream` that a file ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np


class EndOfStream(Exception):  # noqa: N818 - a signal, not an error
    """The source has no more frames (a recording ended)."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame: its index, monotonic and wall stamps, and BGR pixels (H x W x 3, uint8)."""

    index: int
    mono: float
    wall: datetime
    image: np.ndarray


class FrameSource(Protocol):
    """Something frames are read from."""

    def read(self, timeout: float) -> Frame | None:
        """The next frame, or None when none came within `timeout` seconds.

        Raises:
            EndOfStream: a recording has no more frames.
        """
        ...

    def close(self) -> None:
        """Release the device, stream or file."""
        ...
