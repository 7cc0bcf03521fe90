"""A capture read in its own thread, so a blocking `read()` never blocks the pipeline.

The thread opens the capture, then reads it into a small bounded queue; when the queue is
full the oldest frame is dropped and counted (a live camera's newest frame matters most).
Everything it learns arrives through that queue: `Opened`, `Captured` frames, then at most
one of `Failed` or `Ended`, after which the thread has released the capture and exited.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

from agent.clock import Clock

logger = logging.getLogger(__name__)


class Capture(Protocol):
    """What is read: `cv2.VideoCapture` has this shape; tests pass their own."""

    def read(self) -> tuple[bool, np.ndarray | None]:
        """`(True, image)` for a frame; `(False, None)` when none can be read."""
        ...

    def release(self) -> None:
        """Free the device, stream or file."""
        ...


#: Opens a capture or raises (`SourceError` with a one-line reason) when it cannot.
Opener = Callable[[], Capture]


@dataclass(frozen=True, slots=True)
class Opened:
    """The capture opened."""


@dataclass(frozen=True, slots=True)
class Captured:
    """One image as it came off the capture, stamped when `read()` returned it."""

    mono: float
    wall: datetime
    image: np.ndarray | None


@dataclass(frozen=True, slots=True)
class Grabbed:
    """A frame taken off the capture but not converted to pixels (nobody wanted them)."""

    mono: float
    wall: datetime


@dataclass(frozen=True, slots=True)
class Damaged:
    """A frame the decoder had to conceal, or one predicted from such a frame.

    The capture says so through a `damaged` attribute (`agent.capture.rtsp`); its
    pixels are not to be analysed.
    """

    mono: float
    wall: datetime


@dataclass(frozen=True, slots=True)
class Failed:
    """The capture could not be opened or stopped giving frames; the thread has ended."""

    why: str


@dataclass(frozen=True, slots=True)
class Ended:
    """A recording reached its end; the thread has ended."""


ReaderItem = Opened | Captured | Grabbed | Damaged | Failed | Ended


class ThreadedReader:
    """Opens and reads one capture in a named daemon thread.

    Args:
        opener: opens the capture (called in the thread).
        clock: stamps each frame as it is read.
        name: the thread's name.
        maxsize: frames held before the oldest is dropped.
        pace_s: when set, one frame every `pace_s` (a file played as a camera, at its
            frame rate: see `frames_missed`).
        ends_at_eof: a failed read is the end of a recording, not a fault.
        wanted: when set, and the capture can `grab` and `retrieve` (an OpenCV capture),
            each frame is grabbed and converted to pixels only if `wanted(mono)`; the
            others arrive as `Grabbed`. Called from the reader thread.
    """

    def __init__(
        self,
        opener: Opener,
        clock: Clock,
        *,
        name: str = "capture-reader",
        maxsize: int = 2,
        pace_s: float | None = None,
        ends_at_eof: bool = False,
        wanted: Callable[[float], bool] | None = None,
    ) -> None:
        self._opener = opener
        self._wanted = wanted
        self._wanted_failed = False
        self._clock = clock
        self._pace_s = pace_s
        self._ends_at_eof = ends_at_eof
        self._queue: queue.Queue[ReaderItem] = queue.Queue(maxsize=max(1, maxsize))
        self._stop = threading.Event()
        #: Frames read off the capture, and of those dropped because the queue was full.
        self.frames_read = 0
        self.dropped = 0
        #: Packets the capture's decoder rejected (a capture with `decode_errors`).
        self.decode_errors = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def get(self, timeout: float) -> ReaderItem | None:
        """The next item, or None when nothing came within `timeout` seconds."""
        try:
            return self._queue.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    def close(self, join_timeout: float = 1.0) -> None:
        """Ask the thread to stop and wait up to `join_timeout` for it.

        A thread stuck inside a blocking `read()` is left to finish on its own: it is a
        daemon thread and releases the capture as soon as that read returns.
        """
        self._stop.set()
        self._thread.join(timeout=join_timeout)
        if self._thread.is_alive():
            logger.warning("%s still blocked in read; left to exit", self._thread.name)

    @property
    def alive(self) -> bool:
        """The thread is still running."""
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            capture = self._opener()
        except Exception as exc:  # noqa: BLE001 - any failure to open is reported, not raised
            self._put(Failed(_one_line(exc)))
            return
        try:
            if not self._stop.is_set():
                self._put(Opened())
                self._read_loop(capture)
        finally:
            capture.release()

    def _read_loop(self, capture: Capture) -> None:
        due = self._clock.monotonic()  # when the last read was due (paced sources)
        while not self._stop.is_set():
            try:
                ok, image, converted, (mono, wall) = self._take(capture)
            except Exception as exc:  # noqa: BLE001 - a broken read is reported, not raised
                self._put(Failed(f"read failed: {_one_line(exc)}"))
                return
            if self._stop.is_set():
                return
            if not ok:
                self._put(Ended() if self._ends_at_eof else Failed("the source gave no frame"))
                return
            self.frames_read += 1
            self.decode_errors = int(getattr(capture, "decode_errors", 0))
            if getattr(capture, "damaged", False):
                self._put(Damaged(mono, wall))
            else:
                self._put(Captured(mono, wall, image) if converted else Grabbed(mono, wall))
            if self._pace_s is not None:
                due += self._pace_s
                now = self._clock.monotonic()
                missed = frames_missed(due, now, self._pace_s)
                if missed:  # a camera goes on without a late reader: its frames are gone
                    self._skip(capture, missed)
                    due += missed * self._pace_s
                self._stop.wait(max(0.0, due - now))

    def _skip(self, capture: Capture, frames: int) -> None:
        """Pass over `frames` frames of a recording played as a camera, counted as dropped."""
        grab = getattr(capture, "grab", None)
        for _ in range(frames):
            ok = grab() if grab is not None else capture.read()[0]
            if not ok:  # the end: the next read says so
                return
            self.dropped += 1

    def _take(
        self, capture: Capture
    ) -> tuple[bool, np.ndarray | None, bool, tuple[float, datetime]]:
        """(ok, image, converted, stamps): the next frame, as pixels only if wanted.

        A grabbed frame is stamped when the grab returned, and `wanted` is asked about
        that very stamp.
        """
        grab = getattr(capture, "grab", None)
        retrieve = getattr(capture, "retrieve", None)
        if self._wanted is None or grab is None or retrieve is None:
            ok, image = capture.read()
            return ok, image, True, (self._clock.monotonic(), self._clock.wall())
        ok = grab()
        stamps = (self._clock.monotonic(), self._clock.wall())
        if not ok:
            return False, None, False, stamps
        if getattr(capture, "damaged", False) or not self._asks(stamps[0]):
            return True, None, False, stamps
        ok, image = retrieve()
        return ok, image, True, stamps

    def _asks(self, mono: float) -> bool:
        """`wanted(mono)`; a failing callback converts the frame (the camera is not at fault)."""
        assert self._wanted is not None
        try:
            return self._wanted(mono)
        except Exception:  # noqa: BLE001 - the caller's bug must not look like an outage
            if not self._wanted_failed:
                logger.exception("deciding whether to convert a frame failed; converting all")
                self._wanted_failed = True
            return True

    def _put(self, item: ReaderItem) -> None:
        """Queue `item`, dropping the oldest queued items to make room."""
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                try:
                    old = self._queue.get_nowait()
                except queue.Empty:
                    continue
                if isinstance(old, Captured | Grabbed | Damaged):
                    self.dropped += 1


#: Frames a camera driver keeps for a late reader (V4L2 drivers queue a few buffers).
CAMERA_BUFFERS = 4


def frames_missed(due: float, now: float, pace_s: float) -> int:
    """Frames a camera has dropped by `now` for a reader whose next read was due at `due`.

    Those beyond the driver's `CAMERA_BUFFERS`, at one frame every `pace_s`.

    A recording played as a camera keeps the wall clock's time line this way: late
    wake-ups are made up from the buffers (not added up: 60 fps played at 56), and a
    reader held up longer loses frames as it would on a live camera.
    """
    return max(0, int((now - due) / pace_s) - CAMERA_BUFFERS)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
