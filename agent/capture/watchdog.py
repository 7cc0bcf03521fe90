"""A live source under a watchdog: stalls and freezes close and reopen it, with backoff.

`WatchedSource.read(timeout)` returns one of:

- `Frame`: a good frame (index counts delivered frames, stamps from the injected clock);
- `Skipped`: a frame the source was told it need not convert to pixels (`wanted`);
- `SourceDown(mono, wall, why)`: good frames stopped at `mono` (backdated to the last good
  frame, or to the first of a run of identical frames); the source is being reopened;
- `SourceUp(mono, wall)`: good frames again from `mono` (the next `read` returns that frame);
- `None`: nothing within `timeout` seconds.

It raises `EndOfStream` when a recording played as a camera ends. The time between
`SourceDown` and `SourceUp` is `no_data` for the pipeline, never downtime.

Stamps, stall and freeze decisions and the backoff schedule use the injected clock; how
long one `read` blocks is real time (at most about `timeout`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np

from agent.capture import EndOfStream, Frame, Skipped, SourceDown, SourceUp
from agent.capture.reader import (
    Captured,
    Damaged,
    Ended,
    Failed,
    Grabbed,
    Opened,
    Opener,
    ThreadedReader,
)
from agent.capture.validate import FrameValidator
from agent.capture.view import ViewWatch
from agent.clock import Clock
from agent.config import CameraConfig

logger = logging.getLogger(__name__)

#: Rough size of the pixel grid compared to spot a frozen source.
_SAMPLE_GRID = (32, 24)
#: Damaged frames (decoder concealment) this many within `DAMAGE_WINDOW_S` raise an alarm.
DAMAGE_ALARM_FRAMES = 10
DAMAGE_WINDOW_S = 60.0

CaptureEvent = Frame | Skipped | SourceDown | SourceUp


def freeze_sample(image: np.ndarray) -> bytes:
    """Raw pixels on a sparse grid (no averaging, so a live sensor's noise changes them).

    Two frames with equal samples are treated as the same picture: a frozen source.
    """
    height, width = image.shape[:2]
    step_y = max(1, height // _SAMPLE_GRID[1])
    step_x = max(1, width // _SAMPLE_GRID[0])
    return image[::step_y, ::step_x].tobytes()


class WatchedSource:
    """A live source (camera, stream, pipeline, or a file played as one) under a watchdog.

    Args:
        opener: opens the capture; called in a reader thread for each attempt.
        clock: stamps frames and times stalls, freezes and backoff.
        read_timeout_s: no good frame for this long (once open) is a stall, also when
            the capture's own read timeout reports it first.
        freeze_after_s: identical frames for this long is a freeze; None turns the check
            off (a recording's still scenes are real, not a frozen camera).
        open_timeout_s: an attempt that has not opened after this (plus `read_timeout_s`)
            is abandoned; the opener should give up sooner by itself.
        backoff_max_s: longest wait between reopen attempts.
        backoff_initial_s: wait before the first reopen attempt; doubles per failure.
        pace_s: at least this long between frames (a recording played as a camera).
        ends_at_eof: the source is a recording: its end raises `EndOfStream`.
        queue_size: frames held between the reader thread and `read`.
        name: for logs and the reader thread's name.
        wanted: when set, frames for whose stamp `wanted(mono)` is false are grabbed
            but not converted to pixels, and come out as `Skipped` (the daemon passes
            `LinePipeline.due`); called from the reader thread. Freezes are then seen
            on the converted frames, and only those count as progress against a stall
            (so a frame is converted anyway once half `read_timeout_s` passed without
            a good one).
        view: when set, good frames are checked against the view it was taught (or
            the first good frame): while the view is dark, blurred or moved, frames
            are withheld between a `SourceDown` (backdated to the first check that saw
            the change) and a `SourceUp`, as in an outage, but the capture stays open.
    """

    def __init__(
        self,
        opener: Opener,
        clock: Clock,
        *,
        read_timeout_s: float = 5.0,
        freeze_after_s: float | None = 10.0,
        open_timeout_s: float = 10.0,
        backoff_max_s: float = 30.0,
        backoff_initial_s: float = 0.5,
        pace_s: float | None = None,
        ends_at_eof: bool = False,
        queue_size: int = 2,
        name: str = "camera",
        wanted: Callable[[float], bool] | None = None,
        view: ViewWatch | None = None,
    ) -> None:
        self._opener = opener
        self.view = view
        self._wanted = wanted
        self._clock = clock
        self.read_timeout_s = read_timeout_s
        self.freeze_after_s = freeze_after_s
        self.open_timeout_s = open_timeout_s
        self.backoff_max_s = backoff_max_s
        self.backoff_initial_s = min(backoff_initial_s, backoff_max_s)
        self._pace_s = pace_s
        self._ends_at_eof = ends_at_eof
        self._queue_size = queue_size
        self.name = name
        self.validator = FrameValidator()
        self._stop = threading.Event()
        self._out: deque[CaptureEvent] = deque()
        self._reader: ThreadedReader | None = None
        self._lock = threading.Lock()  # `close` may come from another thread
        self._opened = False
        self._progress_mono = clock.monotonic()  # last good frame, or attempt start / open
        self._last_good: tuple[float, datetime] = (clock.monotonic(), clock.wall())
        self._sample: bytes | None = None
        self._same_since: tuple[float, datetime] | None = None
        self._frozen_sample: bytes | None = None  # the picture a frozen source showed
        self._down = False
        self._failures = 0  # consecutive failed attempts, for the backoff
        self._next_attempt = clock.monotonic()
        self._ended = False
        self._closed = False
        self._next_index = 0
        self._dropped_before = 0  # drops counted by readers already closed
        self._read_before = 0
        self._decode_errors_before = 0
        self._damage_times: deque[float] = deque(maxlen=DAMAGE_ALARM_FRAMES)
        self._damaged_in_row = 0  # damaged frames since the last good one
        self.frames_damaged = 0
        self.view_withheld = 0  # good frames withheld while the view was wrong
        self.frames_in = 0
        self.frames_not_converted = 0
        self.frozen_skipped = 0
        self.reopens = 0
        self.outages = 0
        self.attempt_times: list[float] = []  # clock.monotonic() of each open attempt
        self._start_attempt()

    @classmethod
    def from_config(
        cls,
        opener: Opener,
        clock: Clock,
        camera: CameraConfig,
        **options: object,
    ) -> WatchedSource:
        """A watched source with the timeouts of `[camera]`; `options` as for the class."""
        settings: dict[str, object] = {
            "read_timeout_s": camera.read_timeout_s,
            "freeze_after_s": camera.freeze_after_s,
            "open_timeout_s": camera.open_timeout_s,
            "backoff_max_s": camera.reopen_backoff_max_s,
        }
        settings.update(options)
        return cls(opener, clock, **settings)  # type: ignore[arg-type]

    # -- the API -----------------------------------------------------------------------

    def read(self, timeout: float) -> CaptureEvent | None:
        """The next frame or marker, or None when nothing came within `timeout` seconds.

        Raises:
            EndOfStream: a recording played as a camera has ended.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            if self._out:
                return self._out.popleft()
            if self._ended:
                raise EndOfStream(self.name)
            if self._closed:
                return None
            remaining = deadline - time.monotonic()
            reader = self._reader
            if reader is None:
                if not self._wait_for_attempt(remaining):
                    return None
                continue
            item = reader.get(max(0.0, min(remaining, 0.25)))
            if reader is not self._reader:
                return None  # closed meanwhile
            if item is not None:
                self._handle(item)
            self._check_stall()
            if not self._out and time.monotonic() >= deadline:
                return None

    def stats(self) -> dict[str, int | bool]:
        """Counters for health: frames in, dropped, invalid by kind, reopens, outages."""
        reader = self._reader
        counts: dict[str, int | bool] = {
            "frames_in": self.frames_in,
            "frames_read": self._read_before + (reader.frames_read if reader else 0),
            "frames_dropped": self._dropped_before + (reader.dropped if reader else 0),
            "frames_damaged": self.frames_damaged,
            "decode_errors": self._decode_errors_before + (reader.decode_errors if reader else 0),
        }
        counts.update({f"invalid_{kind}": n for kind, n in self.validator.counts.items()})
        counts.update(
            frames_not_converted=self.frames_not_converted,
            frozen_skipped=self.frozen_skipped,
            view_withheld=self.view_withheld,
            reopens=self.reopens,
            outages=self.outages,
            connected=not self._down and self._opened,
        )
        return counts

    def alarm(self) -> str | None:
        """What is wrong with frames that do arrive, while it persists; else None.

        Today: `DAMAGE_ALARM_FRAMES` damaged frames within the last `DAMAGE_WINDOW_S`.
        """
        times = self._damage_times
        if len(times) < DAMAGE_ALARM_FRAMES:
            return None
        if self._clock.monotonic() - times[0] > DAMAGE_WINDOW_S:
            return None
        return (
            f"{DAMAGE_ALARM_FRAMES}+ damaged frames in {DAMAGE_WINDOW_S:.0f} s "
            f"(the decoder concealed lost data; {self.frames_damaged} in all)"
        )

    @property
    def connected(self) -> bool:
        """Good frames are flowing (not between `SourceDown` and `SourceUp`)."""
        return not self._down and self._opened

    @property
    def closed(self) -> bool:
        """`close` was called."""
        return self._closed

    def close(self) -> None:
        """Stop the reader thread (waiting at most about a second) and release the source."""
        with self._lock:
            self._closed = True
            self._stop.set()
        self._drop_reader(join_timeout=1.0)

    def __enter__(self) -> WatchedSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- attempts ------------------------------------------------------------------------

    def _start_attempt(self) -> None:
        with self._lock:
            if self._closed:
                return
            now = self._clock.monotonic()
            if self.attempt_times:
                self.reopens += 1
            self.attempt_times.append(now)
            self._opened = False
            self._progress_mono = now
            self._reader = ThreadedReader(
                self._opener,
                self._clock,
                name=f"capture-{self.name}",
                maxsize=self._queue_size,
                pace_s=self._pace_s,
                ends_at_eof=self._ends_at_eof,
                wanted=self._convert if self._wanted is not None else None,
            )

    def _convert(self, mono: float) -> bool:
        """Whether the reader should convert a frame stamped `mono` to pixels.

        What `wanted` says, but also any frame once half the stall timeout has passed
        without a good one: only converted frames show that the camera is well, and a
        slow `analysis_fps` must not look like a stall. (Called from the reader thread.)
        """
        assert self._wanted is not None
        return mono - self._progress_mono >= 0.5 * self.read_timeout_s or self._wanted(mono)

    def _wait_for_attempt(self, remaining: float) -> bool:
        """Wait (real time, at most `remaining`) for the next attempt; True if one started."""
        due_in = self._next_attempt - self._clock.monotonic()
        if due_in > 0:
            self._stop.wait(max(0.0, min(remaining, due_in)))
            if self._stop.is_set() or self._next_attempt > self._clock.monotonic():
                return False
        self._start_attempt()
        return self._reader is not None

    def _drop_reader(self, join_timeout: float = 0.2) -> None:
        with self._lock:
            reader, self._reader = self._reader, None
        if reader is not None:
            reader.close(join_timeout=join_timeout)
            self._dropped_before += reader.dropped
            self._read_before += reader.frames_read
            self._decode_errors_before += reader.decode_errors

    def _fail(self, why: str, since: tuple[float, datetime] | None = None) -> None:
        """Close the attempt; announce the outage once; schedule the next attempt."""
        self._drop_reader()
        self._opened = False
        now = self._clock.monotonic()
        if not self._down:
            self._down = True
            self.outages += 1
            mono, wall = since or self._last_good
            self._out.append(SourceDown(mono, wall, why))
            logger.warning("camera %s down: %s", self.name, why)
        else:
            logger.info("camera %s still down: %s", self.name, why)
        self._failures += 1
        delay = min(self.backoff_initial_s * 2 ** (self._failures - 1), self.backoff_max_s)
        self._next_attempt = now + delay

    def _check_stall(self) -> bool:
        """Fail the attempt if nothing good came for too long; True when it did."""
        if self._reader is None:
            return False
        limit = self.read_timeout_s if self._opened else self.open_timeout_s + self.read_timeout_s
        quiet = self._clock.monotonic() - self._progress_mono
        if quiet < limit:
            return False
        what = "no good frame" if self._opened else "not open"
        if self._damaged_in_row:
            what = f"only damaged frames ({self._damaged_in_row})"
        self._fail(f"stalled: {what} for {quiet:.1f} s")
        return True

    # -- items from the reader -------------------------------------------------------------

    def _handle(self, item: Opened | Captured | Grabbed | Damaged | Failed | Ended) -> None:
        if isinstance(item, Captured):
            self._on_frame(item)
        elif isinstance(item, Damaged):
            self._on_damaged(item)
        elif isinstance(item, Grabbed):
            self._opened = True
            if not self._down:  # an outage ends with a good converted frame only
                self.frames_in += 1
                self.frames_not_converted += 1
                self._out.append(Skipped(self._next_index, item.mono, item.wall))
                self._next_index += 1
        elif isinstance(item, Opened):
            self._opened = True
            self._progress_mono = self._clock.monotonic()
        elif isinstance(item, Failed):
            # A stream's own read timeout (PyAV's, OpenCV's: also `read_timeout_s`) ends a
            # stalled read as the stall deadline passes, often before this watchdog looks
            # (a busy machine): such a failure is reported as the stall it is. (Opening
            # has its own, more telling, reasons.)
            if not (self._opened and self._check_stall()):
                self._fail(item.why)
        else:
            self._drop_reader()
            self._ended = True
            logger.info("camera %s: the recording ended", self.name)

    def _view_wrong(self, item: Captured) -> bool:
        """Check the view now and then; True while it is wrong (the frame is withheld)."""
        view = self.view
        assert item.image is not None
        if view is None or not view.update(item.mono, item.image) and view.problem is None:
            return False
        if view.problem is None:  # right again: the SourceUp below says so
            logger.warning("camera %s: the view is right again", self.name)
            return False
        if not self._down:
            self._down = True
            self.outages += 1
            since = view.since if view.since is not None else item.mono
            wall = item.wall - timedelta(seconds=max(0.0, item.mono - since))
            self._out.append(SourceDown(since, wall, view.problem))
            logger.warning("camera %s: %s", self.name, view.problem)
        self.view_withheld += 1
        return True

    def _on_damaged(self, item: Damaged) -> None:
        """Counted, never delivered, and no progress: only damage for long is a stall."""
        self._opened = True
        self.frames_damaged += 1
        self._damaged_in_row += 1
        self._damage_times.append(item.mono)
        if self._damaged_in_row == 1:
            logger.warning(
                "camera %s: damaged frames skipped (%d so far)", self.name, self.frames_damaged
            )

    def _on_frame(self, item: Captured) -> None:
        self._opened = True  # a frame implies the open marker, which may have been dropped
        if not self.validator.accept(item.image):
            return
        assert item.image is not None
        sample = freeze_sample(item.image)
        if self._down and sample == self._frozen_sample:
            self.frozen_skipped += 1  # still the frozen picture: not back yet
            return
        if sample != self._sample:
            self._sample = sample
            self._same_since = (item.mono, item.wall)
        elif (
            self.freeze_after_s is not None
            and self._same_since is not None
            and item.mono - self._same_since[0] >= self.freeze_after_s
        ):
            seconds = item.mono - self._same_since[0]
            self._frozen_sample = sample
            self._fail(f"frozen: identical frames for {seconds:.1f} s", since=self._same_since)
            return
        self._progress_mono = item.mono
        self._last_good = (item.mono, item.wall)
        self._damaged_in_row = 0
        if self._view_wrong(item):
            return
        if self._down:
            self._down = False
            self._failures = 0
            self._frozen_sample = None
            self._out.append(SourceUp(item.mono, item.wall))
            logger.warning("camera %s up again", self.name)
        frame = Frame(self._next_index, item.mono, item.wall, item.image)
        self._next_index += 1
        self.frames_in += 1
        self._out.append(frame)
