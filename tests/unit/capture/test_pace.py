"""A recording played as a camera keeps the wall clock's time line, as a camera does."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import pytest

from agent.capture.reader import (
    CAMERA_BUFFERS,
    Captured,
    Ended,
    Grabbed,
    ThreadedReader,
    frames_missed,
)
from agent.clock import SystemClock
from tests.unit.capture.capture_helpers import ScriptedCapture, moving_square, write_video


def _play(reads: int, pace_s: float, late_s: float, read_s: float) -> float:
    """The seconds `reads` paced reads take when every wake-up is `late_s` late."""
    now = due = 0.0
    for _ in range(reads):
        now += read_s  # the read itself
        due += pace_s
        due += frames_missed(due, now, pace_s) * pace_s
        now = max(now, due) + late_s  # the wait, and the scheduler's lateness
    return now


def _frames_to_end(reader: ThreadedReader) -> int:
    """The frames `reader` hands on until it reports the end of its file."""
    frames = 0
    while not isinstance(item := reader.get(5.0), Ended):
        assert item is not None  # never a 5 s silence
        frames += isinstance(item, Captured | Grabbed)
    return frames


@pytest.mark.parametrize("late_s", [0.0, 0.0005, 0.001, 0.004])
def test_late_wake_ups_do_not_slow_the_frame_rate(late_s: float) -> None:
    pace = 1 / 60
    took = _play(600, pace, late_s, read_s=0.002)
    assert took == pytest.approx(600 * pace, abs=2 * pace)  # 60 fps, not 56


def test_a_camera_keeps_a_few_frames_for_a_late_reader_and_drops_the_rest() -> None:
    pace = 0.1
    assert frames_missed(1.0, 1.0 + CAMERA_BUFFERS * pace, pace) == 0
    assert frames_missed(1.0, 6.0, pace) == 50 - CAMERA_BUFFERS  # 5 s late


def test_a_stalled_reader_skips_what_the_camera_dropped(tmp_path: Path) -> None:
    """150 frames at 100 fps, the reader held up 0.5 s at frame 20: the file still
    ends at ~1.5 s of wall time, ~46 frames counted as dropped, none read twice."""
    video = write_video(tmp_path / "clip.avi", (moving_square(i) for i in range(150)), 100.0)
    asked = []

    def wanted(mono: float) -> bool:  # called on the reader's thread, before each read
        asked.append(mono)
        if len(asked) == 20:
            time.sleep(0.5)
        return True

    began = time.monotonic()
    reader = ThreadedReader(
        lambda: cv2.VideoCapture(str(video)),
        SystemClock(),
        maxsize=1000,
        pace_s=0.01,
        ends_at_eof=True,
        wanted=wanted,
    )
    frames = _frames_to_end(reader)
    took = time.monotonic() - began
    reader.close()
    assert reader.dropped >= 50 - CAMERA_BUFFERS - 10  # the scheduler may add a little
    assert frames + reader.dropped == 150
    assert took < 1.5 + 0.3  # not 2.0 s: the time line is the wall clock's


class _HeldUpAtFirst(ScriptedCapture):
    """A capture that can only `read` (no `grab`), its first read held up 1 s."""

    held = False

    def read(self):  # type: ignore[no-untyped-def]
        if not self.held:
            self.held = True
            time.sleep(1.0)  # 100 frames' time at 100 fps
        return super().read()


def test_a_capture_without_grab_is_skipped_by_read_and_stops_at_its_end() -> None:
    """30 frames, the reader held up past their end: the frames skipped are those that
    were there, never more."""
    frames = [(True, moving_square(i)) for i in range(30)]
    reader = ThreadedReader(
        lambda: _HeldUpAtFirst(frames), SystemClock(), maxsize=1000, pace_s=0.01, ends_at_eof=True
    )
    got = _frames_to_end(reader)
    reader.close()
    assert got + reader.dropped == 30
