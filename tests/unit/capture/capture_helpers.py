"""Helpers for capture tests: real video files written with OpenCV, and test doubles
for our own `Capture` / `Opener` interfaces (never for OpenCV itself)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.capture import EndOfStream, SourceError

WIDTH, HEIGHT = 96, 64


def moving_square(index: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """A grey frame with a white square that moves one step per frame (never black)."""
    image = np.full((height, width, 3), 60, np.uint8)
    x = (index * 3) % (width - 16)
    cv2.rectangle(image, (x, 20), (x + 15, 35), (255, 255, 255), -1)
    return image


def write_video(path: Path, frames: Iterable[np.ndarray], fps: float) -> Path:
    """Write `frames` as an MJPG AVI at `fps`; return `path`."""
    frames = list(frames)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened(), "OpenCV cannot write MJPG here"
    for image in frames:
        writer.write(image)
    writer.release()
    return path


Result = tuple[bool, np.ndarray | None]


class ScriptedCapture:
    """Plays scripted `read()` results, then `after` (default: the source gave out)."""

    def __init__(self, script: Iterable[Result], after: Callable[[], Result] | None = None):
        self._script = iter(script)
        self._after = after or (lambda: (False, None))
        self.released = threading.Event()

    def read(self) -> Result:
        for result in self._script:
            return result
        return self._after()

    def release(self) -> None:
        self.released.set()


class FlakyOpener:
    """Returns the captures `make()` builds, but raises for the attempts listed in `fail_on`."""

    def __init__(self, make: Callable[[int], ScriptedCapture], fail_on: set[int]):
        self.make = make
        self.fail_on = fail_on
        self.calls = 0

    def __call__(self) -> ScriptedCapture:
        attempt = self.calls
        self.calls += 1
        if attempt in self.fail_on:
            raise SourceError("camera /dev/video9 not found (unplugged?)")
        return self.make(attempt)


def read_to_end(source, limit_s: float = 10.0) -> list:
    """Every event a live source gives until its recording ends (which must be within
    `limit_s`); the source is closed afterwards."""
    events: list = []
    try:
        with pytest.raises(EndOfStream):
            give_up = time.monotonic() + limit_s
            while time.monotonic() < give_up:
                event = source.read(0.1)
                if event is not None:
                    events.append(event)
    finally:
        source.close()
    return events
