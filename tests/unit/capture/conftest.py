"""Fixtures for capture tests: real video files written at test time with OpenCV."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np
import pytest

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


@pytest.fixture
def make_video(tmp_path: Path) -> Callable[..., Path]:
    """`make_video(name, n, fps, frame=moving_square)` writes a real video file."""

    def make(
        name: str = "clip.avi",
        n: int = 30,
        fps: float = 10.0,
        frame: Callable[[int], np.ndarray] = moving_square,
    ) -> Path:
        return write_video(tmp_path / name, (frame(i) for i in range(n)), fps)

    return make
