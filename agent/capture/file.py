"""A recording read on its own time line: frame i is stamped `i / fps` after its start."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import NoReturn

import cv2
import numpy as np

from agent.capture import EndOfStream, Frame, Skipped, SourceError
from agent.capture.validate import FrameValidator

logger = logging.getLogger(__name__)

#: A container fps outside this range is not believed (broken headers say 0 or 90000).
_PLAUSIBLE_FPS = (0.5, 1000.0)


def container_fps(capture: cv2.VideoCapture, fallback: float) -> float:
    """The frame rate the container declares, or `fallback` when it is missing or absurd."""
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    if not math.isfinite(fps) or not _PLAUSIBLE_FPS[0] <= fps <= _PLAUSIBLE_FPS[1]:
        return fallback
    return fps


def open_video_file(path: str | Path) -> tuple[cv2.VideoCapture, np.ndarray]:
    """Open a recording and decode its first frame.

    Returns:
        The capture (positioned after the first frame) and that frame.

    Raises:
        SourceError: the file is missing, not a file, or OpenCV cannot decode a frame of it.
    """
    path = Path(path)
    if not path.exists():
        raise SourceError(f"video file not found: {path}")
    if not path.is_file():
        raise SourceError(f"not a video file: {path}")
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        capture.release()
        raise SourceError(f"cannot decode video file {path}: OpenCV cannot open it")
    ok, image = capture.read()
    if not ok or image is None or image.size == 0:
        capture.release()
        raise SourceError(f"cannot decode video file {path}: no frame decodes")
    return capture, image


class VideoFileSource:
    """Frames of a recording, stamped on the video's own time line.

    Frame i has `mono = i / fps` and `wall = start_wall + mono`, however fast it is read.
    Bad frames (see `FrameValidator`) are skipped but keep their place on the time line.
    `read` ignores its timeout: decoding a file never stalls. `read_if` decodes every
    frame but converts to BGR only those its caller wants (the colour conversion is
    about a third of the decoder's cost for 640x480 MPEG-4, measured).
    """

    def __init__(self, path: str | Path, start_wall: datetime, fps_fallback: float = 30.0) -> None:
        self.path = Path(path)
        self.start_wall = start_wall
        self._capture, first = open_video_file(self.path)
        self.fps = container_fps(self._capture, fps_fallback)
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        #: Frames the container claims to hold; None when it does not say.
        self.frame_count: int | None = count if count > 0 else None
        #: (width, height) of the first frame.
        self.size: tuple[int, int] = (first.shape[1], first.shape[0])
        self._pending: np.ndarray | None = first
        self._next_index = 0
        self._ended = False
        self.validator = FrameValidator()
        logger.info(
            "opened %s: %dx%d at %.3g fps, %s frames",
            self.path,
            *self.size,
            self.fps,
            self.frame_count if self.frame_count is not None else "unknown",
        )

    def read(self, timeout: float = 0.0) -> Frame:
        """The next good frame of the recording.

        Raises:
            EndOfStream: the recording has no more frames.
        """
        while True:
            image = self._decode()
            index = self._next_index
            self._next_index += 1
            if not self.validator.accept(image):
                continue
            mono = index / self.fps
            return Frame(index, mono, self.start_wall + timedelta(seconds=mono), image)

    def read_if(self, wanted: Callable[[float], bool]) -> Frame | Skipped:
        """The next frame, as pixels only when `wanted(mono)` says so.

        A frame not wanted is decoded (the decoder needs every frame) but not converted
        or validated: a `Skipped` with its stamps.

        Raises:
            EndOfStream: the recording has no more frames.
        """
        mono = self._next_index / self.fps
        if self._pending is not None or wanted(mono):
            return self.read()
        if self._ended or not self._capture.grab():
            self._end()
        index = self._next_index
        self._next_index += 1
        return Skipped(index, mono, self.start_wall + timedelta(seconds=mono))

    def _end(self) -> NoReturn:
        self._ended = True
        self._capture.release()
        raise EndOfStream(str(self.path))

    def _decode(self) -> np.ndarray:
        if self._pending is not None:
            image, self._pending = self._pending, None
            return image
        if self._ended:
            raise EndOfStream(str(self.path))
        ok, image = self._capture.read()
        if not ok:
            self._end()
        return image

    @property
    def frames_read(self) -> int:
        """Frames decoded so far, good or bad."""
        return self._next_index

    def stats(self) -> dict[str, int]:
        """Counters: frames decoded and bad frames by kind."""
        counts = {"frames_in": self._next_index - self.validator.invalid}
        counts.update({f"invalid_{kind}": n for kind, n in self.validator.counts.items()})
        return counts

    def close(self) -> None:
        """Release the file."""
        self._ended = True
        self._pending = None
        self._capture.release()

    def __enter__(self) -> VideoFileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
