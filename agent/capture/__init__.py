"""Capture: frames from a camera, a stream or a recording, each stamped with time.

Stage interface: a `FrameSource` yields `Frame`s; `None` from `read` means no frame
within the timeout (a stall the watchdog handles), `EndOfStream` that a file ended.

A watched live source (`agent.capture.watchdog.WatchedSource`) also yields the markers
`SourceDown` and `SourceUp`: the time between them is `no_data`, never downtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

from agent.errors import UserError


class EndOfStream(Exception):  # noqa: N818 - a signal, not an error
    """The source has no more frames (a recording ended)."""


class SourceError(UserError):
    """A source that cannot be used as configured (missing file, undecodable, bad string)."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame: its index, monotonic and wall stamps, and BGR pixels (H x W x 3, uint8)."""

    index: int
    mono: float
    wall: datetime
    image: np.ndarray


@dataclass(frozen=True, slots=True)
class Skipped:
    """A frame of a recording that was decoded but not converted to pixels.

    The pipeline said it would not look at it (`LinePipeline.due`); it keeps the frame's
    place on the time line at a fraction of the cost (no colour conversion).
    """

    index: int
    mono: float
    wall: datetime


@dataclass(frozen=True, slots=True)
class SourceDown:
    """The source stopped giving good frames at `mono`/`wall` (backdated), because `why`.

    From here until the next `SourceUp` the pipeline has no data: report `no_data`.
    """

    mono: float
    wall: datetime
    why: str


@dataclass(frozen=True, slots=True)
class SourceUp:
    """Good frames again from `mono`/`wall` (the stamp of the first good frame)."""

    mono: float
    wall: datetime


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


class LiveSource(Protocol):
    """A watched live source (`agent.capture.sources.open_source` returns one)."""

    def read(self, timeout: float) -> Frame | SourceDown | SourceUp | None:
        """The next frame or marker, or None when nothing came within `timeout` seconds.

        Raises:
            EndOfStream: a recording played as a camera has ended.
        """
        ...

    def stats(self) -> dict[str, int | bool]:
        """Counters for health (see docs/capture.md)."""
        ...

    def close(self) -> None:
        """Stop reading and release the source, within about a second."""
        ...


__all__ = [
    "EndOfStream",
    "Frame",
    "FrameSource",
    "LiveSource",
    "SourceDown",
    "SourceError",
    "SourceUp",
    "Skipped",
]
