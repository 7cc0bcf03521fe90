from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest
from capture_helpers import (
    FlakyOpener,
    ScriptedCapture,
    moving_square,
    read_to_end,
    write_video,
)

from agent.capture import Frame, Skipped, SourceDown, SourceUp
from agent.capture.watchdog import WatchedSource, freeze_sample
from agent.clock import ManualClock, SystemClock

START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def collect(
    source: WatchedSource,
    done: Callable[[list], bool],
    limit_s: float = 10.0,
    clock: ManualClock | None = None,
    step_s: float = 0.1,
) -> list:
    """Read events until `done(events)`; a manual clock moves `step_s` per read."""
    events: list = []
    give_up = time.monotonic() + limit_s
    while not done(events):
        assert time.monotonic() < give_up, f"gave up waiting; got {summary(events)}"
        event = source.read(0.05 if clock is None else 0.005)
        if event is not None:
            events.append(event)
        if clock is not None:
            clock.advance(step_s)
    return events


def summary(events: list) -> list[str]:
    out: list[str] = []
    for e in events:
        name = type(e).__name__
        if out and out[-1].startswith(name) and name == "Frame":
            count = int(out[-1].split("x")[-1]) if "x" in out[-1] else 1
            out[-1] = f"Frame x{count + 1}"
        else:
            out.append(name)
    return out


def kinds(events: list) -> list[str]:
    """Event type names with runs of frames collapsed to one 'Frame'."""
    out: list[str] = []
    for e in events:
        name = type(e).__name__
        if not (out and out[-1] == name == "Frame"):
            out.append(name)
    return out


def test_empty_and_corrupt_frames_are_counted_and_skipped() -> None:
    good = [moving_square(i) for i in range(3)]
    script = [
        (True, good[0]),
        (True, None),  # empty
        (True, np.zeros((0, 0, 3), np.uint8)),  # empty
        (True, good[1][:, :, 0]),  # truncated: one channel
        (True, good[1].astype(np.float32)),  # truncated: wrong type
        (True, np.zeros_like(good[1])),  # black
        (True, moving_square(1, width=48, height=32)),  # wrong size
        (True, good[1]),
        (True, np.full_like(good[1], 3)),  # black (under the black level)
        (True, good[2]),
    ]
    release = threading.Event()

    def idle() -> tuple[bool, None]:
        release.wait(10)
        return False, None

    capture = ScriptedCapture(script, after=idle)
    source = WatchedSource(lambda: capture, SystemClock(), queue_size=16, read_timeout_s=30)
    try:
        events = collect(source, lambda ev: len(ev) == 3)
    finally:
        release.set()
        source.close()
    assert all(isinstance(e, Frame) for e in events)
    assert [e.index for e in events] == [0, 1, 2]
    for frame, expected in zip(events, good, strict=True):
        assert np.array_equal(frame.image, expected)
    stats = source.stats()
    assert stats["frames_in"] == 3
    assert stats["invalid_truncated"] == 2
    assert stats["invalid_black"] == 2
    assert stats["invalid_wrong_size"] == 1
    assert stats["invalid_empty"] == 2
    assert stats["outages"] == 0


def test_only_bad_frames_is_a_stall_and_the_source_is_reopened() -> None:
    clock = ManualClock(START)
    opener = FlakyOpener(
        lambda n: ScriptedCapture([], after=lambda: (True, None)) if n == 0 else moving(),
        fail_on=set(),
    )
    source = WatchedSource(opener, clock, read_timeout_s=1.0, backoff_initial_s=0.2)
    try:
        events = collect(source, lambda ev: "Frame" in kinds(ev), clock=clock)
    finally:
        source.close()
    assert kinds(events) == ["SourceDown", "SourceUp", "Frame"]
    assert "stalled" in events[0].why
    assert source.stats()["invalid_empty"] > 0
    assert source.stats()["reopens"] == 1


def moving(n: int = 10_000) -> ScriptedCapture:
    return ScriptedCapture((True, moving_square(i)) for i in range(n))


def test_a_camera_that_vanishes_and_returns_backs_off_then_counts_again() -> None:
    clock = ManualClock(START)

    def make(attempt: int) -> ScriptedCapture:
        # The first capture gives 5 frames then the device goes away.
        return moving(5) if attempt == 0 else moving()

    opener = FlakyOpener(make, fail_on={1, 2, 3, 4})
    source = WatchedSource(
        opener,
        clock,
        read_timeout_s=10.0,
        backoff_initial_s=0.5,
        backoff_max_s=3.0,
        queue_size=16,
    )
    try:
        events = collect(
            source,
            lambda ev: kinds(ev)[-3:] == ["SourceDown", "SourceUp", "Frame"] and len(ev) > 8,
            clock=clock,
            step_s=0.05,
        )
    finally:
        source.close()
    assert kinds(events) == ["Frame", "SourceDown", "SourceUp", "Frame"]
    before = [e for e in events if isinstance(e, Frame)][:5]
    down = next(e for e in events if isinstance(e, SourceDown))
    up = next(e for e in events if isinstance(e, SourceUp))
    after = events[events.index(up) + 1 :]
    assert len(before) == 5
    assert down.mono == before[-1].mono  # backdated to the last good frame
    assert down.wall == before[-1].wall
    assert "gave no frame" in down.why
    assert up.mono == after[0].mono > down.mono
    assert [f.index for f in before + after] == list(range(len(before) + len(after)))
    # attempt 0 at start; after the failure: backoff 0.5, 1, 2, 3 (capped), 3
    gaps = np.diff(source.attempt_times[1:])
    assert list(gaps) == pytest.approx([1.0, 2.0, 3.0, 3.0], abs=0.11)
    assert 0.5 <= source.attempt_times[1] - down.mono < 1.0
    stats = source.stats()
    assert stats["reopens"] == 5
    assert stats["outages"] == 1
    assert stats["connected"] is True
    assert opener.calls == 6


def test_a_camera_missing_at_start_is_no_data_from_the_start() -> None:
    clock = ManualClock(START, now=100.0)
    opener = FlakyOpener(lambda n: moving(), fail_on={0})
    source = WatchedSource(opener, clock, backoff_initial_s=0.3)
    try:
        events = collect(source, lambda ev: "Frame" in kinds(ev), clock=clock)
    finally:
        source.close()
    assert kinds(events) == ["SourceDown", "SourceUp", "Frame"]
    assert events[0].mono == 100.0
    assert "not found" in events[0].why


def test_a_stalled_read_is_abandoned_and_the_source_reopened() -> None:
    release = threading.Event()

    def hang() -> tuple[bool, np.ndarray | None]:
        release.wait(10)
        return False, None

    opener = FlakyOpener(
        lambda n: (
            ScriptedCapture(((True, moving_square(i)) for i in range(3)), after=hang)
            if n == 0
            else moving()
        ),
        fail_on=set(),
    )
    source = WatchedSource(
        opener, SystemClock(), read_timeout_s=0.3, backoff_initial_s=0.05, queue_size=8
    )
    try:
        events = collect(source, lambda ev: kinds(ev)[-1:] == ["Frame"] and "SourceUp" in kinds(ev))
    finally:
        release.set()
        source.close()
    assert kinds(events) == ["Frame", "SourceDown", "SourceUp", "Frame"]
    down = next(e for e in events if isinstance(e, SourceDown))
    assert "stalled" in down.why


def test_a_read_its_own_timeout_ends_is_reported_as_the_stall_it_is() -> None:
    # PyAV's and OpenCV's streams give up a silent read after `read_timeout_s`, as this
    # watchdog does: when their failure is queued before the watchdog looks (a busy
    # machine), the outage is still named a stall, not a source that gave no frame.
    clock = ManualClock(START)
    timed_out = threading.Event()

    def silent_until_timed_out() -> tuple[bool, np.ndarray | None]:
        timed_out.wait(10)
        return False, None

    capture = ScriptedCapture(
        ((True, moving_square(i)) for i in range(3)), after=silent_until_timed_out
    )
    source = WatchedSource(lambda: capture, clock, read_timeout_s=1.0, queue_size=8)
    try:
        frames = collect(source, lambda ev: kinds(ev) == ["Frame"] and len(ev) == 3)
        clock.advance(1.0)  # the stream stays silent past the stall deadline
        timed_out.set()  # ...then its read times out
        assert capture.released.wait(5)  # the reader thread queued `Failed` and ended
        down = source.read(1.0)
    finally:
        source.close()
    assert [f.mono for f in frames] == [0.0] * 3
    assert isinstance(down, SourceDown), down
    assert down.why == "stalled: no good frame for 1.0 s"


def test_a_frozen_video_goes_down_and_the_source_is_reopened(tmp_path) -> None:
    still = moving_square(7)
    frozen = write_video(tmp_path / "frozen.avi", [still] * 40, fps=20)
    live = write_video(tmp_path / "live.avi", (moving_square(i) for i in range(60)), fps=20)
    paths = [frozen, live]
    opened: list[str] = []

    def opener() -> cv2.VideoCapture:
        path = paths[min(len(opened), 1)]
        opened.append(path.name)
        return cv2.VideoCapture(str(path))

    source = WatchedSource(
        opener,
        SystemClock(),
        freeze_after_s=0.3,
        read_timeout_s=2.0,
        backoff_initial_s=0.05,
        pace_s=0.02,
        queue_size=8,
    )
    try:
        events = collect(
            source, lambda ev: "SourceUp" in kinds(ev) and kinds(ev)[-1] == "Frame" and len(ev) > 20
        )
    finally:
        source.close()
    assert kinds(events)[:4] == ["Frame", "SourceDown", "SourceUp", "Frame"]
    first = [e for e in events if isinstance(e, Frame)]
    down = next(e for e in events if isinstance(e, SourceDown))
    assert "frozen" in down.why
    assert down.mono == first[0].mono  # backdated to the first identical frame
    assert opened[:2] == ["frozen.avi", "live.avi"]
    assert source.stats()["reopens"] >= 1


def test_a_still_scene_with_sensor_noise_is_not_frozen() -> None:
    rng = np.random.default_rng(3)
    scene = moving_square(5).astype(np.int16)

    def noisy() -> tuple[bool, np.ndarray]:
        noise = rng.integers(-2, 3, scene.shape, dtype=np.int16)
        return True, np.clip(scene + noise, 0, 255).astype(np.uint8)

    source = WatchedSource(
        lambda: ScriptedCapture([], after=noisy), SystemClock(), freeze_after_s=0.2, pace_s=0.01
    )
    try:
        started = time.monotonic()
        events = collect(source, lambda ev: time.monotonic() - started > 0.8)
    finally:
        source.close()
    assert kinds(events) == ["Frame"]
    assert source.stats()["outages"] == 0


def test_freeze_sample_sees_single_pixel_noise_but_not_nothing() -> None:
    image = moving_square(2, width=640, height=480)
    same = image.copy()
    assert freeze_sample(image) == freeze_sample(same)
    same[0, 0, 0] += 1  # a corner pixel is on the grid
    assert freeze_sample(image) != freeze_sample(same)
    assert len(freeze_sample(image)) <= 40 * 30 * 3


def test_a_full_queue_drops_the_oldest_frames_and_counts_them() -> None:
    source = WatchedSource(lambda: moving(200), SystemClock(), queue_size=2, read_timeout_s=30)
    try:
        time.sleep(0.3)  # let the reader run ahead of a busy pipeline
        events = collect(source, lambda ev: "SourceDown" in kinds(ev))
    finally:
        source.close()
    frames = [e for e in events if isinstance(e, Frame)]
    stats = source.stats()
    assert stats["frames_dropped"] > 0
    assert stats["frames_read"] == 200
    assert len(frames) + stats["frames_dropped"] == 200
    assert frames[-1].index == len(frames) - 1


def test_close_stops_the_reader_thread() -> None:
    source = WatchedSource(lambda: moving(), SystemClock(), pace_s=0.01)
    collect(source, lambda ev: len(ev) >= 3)
    source.close()
    assert source.read(0.01) is None
    assert not [t for t in threading.enumerate() if t.name == "capture-camera" and t.is_alive()]


def test_a_recording_played_as_a_camera_ends(tmp_path) -> None:
    path = write_video(tmp_path / "c.avi", (moving_square(i) for i in range(15)), fps=50)
    source = WatchedSource(
        lambda: cv2.VideoCapture(str(path)), SystemClock(), pace_s=0.02, ends_at_eof=True
    )
    frames = read_to_end(source)
    assert all(isinstance(f, Frame) for f in frames)
    assert len(frames) + source.stats()["frames_dropped"] == 15
    assert all(b.mono > a.mono for a, b in zip(frames, frames[1:], strict=False))


def test_close_from_another_thread_ends_a_waiting_read() -> None:
    opener = FlakyOpener(lambda n: moving(), fail_on=set(range(10)))
    source = WatchedSource(opener, SystemClock(), backoff_initial_s=5.0)
    events: list = []
    waiting = threading.Event()

    def pipeline() -> None:
        while not source.closed:
            event = source.read(2.0)  # waits for the 5 s backoff until closed
            if event is not None:
                events.append(event)
                waiting.set()

    thread = threading.Thread(target=pipeline)
    thread.start()
    assert waiting.wait(5)
    time.sleep(0.1)
    source.close()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert kinds(events) == ["SourceDown"]
    assert opener.calls == 1  # no attempt after close


def test_an_open_that_hangs_is_abandoned_and_its_capture_released_later() -> None:
    clock = ManualClock(START)
    unblock = threading.Event()
    hung = ScriptedCapture([])
    captures = [hung]

    def opener() -> ScriptedCapture:
        if len(captures) == 1:
            captures.append(moving())
            unblock.wait(10)  # a driver stuck in open()
            return hung
        return captures[-1]

    source = WatchedSource(
        opener, clock, open_timeout_s=1.0, read_timeout_s=0.5, backoff_initial_s=0.2
    )
    try:
        events = collect(source, lambda ev: "Frame" in kinds(ev), clock=clock)
        assert kinds(events) == ["SourceDown", "SourceUp", "Frame"]
        assert events[0].why.startswith("stalled: not open for ")
        assert not hung.released.is_set()
        unblock.set()  # the stuck open finally returns: nobody wants it any more
        assert hung.released.wait(5)
    finally:
        unblock.set()
        source.close()


def test_frames_nobody_wants_are_grabbed_but_not_converted(tmp_path) -> None:
    """A real OpenCV capture: only the frames `wanted` accepts are decoded to pixels."""
    path = write_video(tmp_path / "c.avi", (moving_square(i) for i in range(30)), fps=50)
    asked: list[float] = []
    every_other = iter(range(10**6))

    def wanted(mono: float) -> bool:
        asked.append(mono)
        return next(every_other) % 2 == 0

    source = WatchedSource(
        lambda: cv2.VideoCapture(str(path)),
        SystemClock(),
        pace_s=0.01,
        ends_at_eof=True,
        queue_size=64,
        wanted=wanted,
    )
    events = read_to_end(source)
    assert len(events) == 30 and len(asked) == 30
    assert [isinstance(e, Frame) for e in events] == [i % 2 == 0 for i in range(30)]
    assert all(isinstance(e, Skipped) for e in events[1::2])
    assert [e.index for e in events] == list(range(30))  # one time line for both kinds
    assert all(b.mono > a.mono for a, b in zip(events, events[1:], strict=False))
    for k, frame in enumerate(events[::2]):  # the converted ones are the right pictures
        assert np.abs(frame.image.astype(int) - moving_square(2 * k)).mean() < 3
    stats = source.stats()
    assert stats["frames_in"] == 30 and stats["frames_not_converted"] == 15


def test_a_freeze_is_seen_on_the_converted_frames_alone(tmp_path) -> None:
    frozen = write_video(tmp_path / "frozen.avi", [moving_square(7)] * 60, fps=20)
    source = WatchedSource(
        lambda: cv2.VideoCapture(str(frozen)),
        SystemClock(),
        freeze_after_s=0.3,
        read_timeout_s=2.0,
        backoff_initial_s=5.0,
        pace_s=0.02,
        queue_size=8,
        wanted=lambda mono: int(mono * 1000) % 3 == 0,  # about a third
    )
    try:
        events = collect(source, lambda ev: "SourceDown" in kinds(ev))
    finally:
        source.close()
    down = next(e for e in events if isinstance(e, SourceDown))
    assert "frozen" in down.why
    first = next(e for e in events if isinstance(e, Frame))
    assert down.mono == first.mono  # backdated to the first identical converted frame
    assert any(isinstance(e, Skipped) for e in events)


def test_a_source_nobody_wants_frames_from_is_not_a_stall(tmp_path) -> None:
    """Only converted frames show the camera is well: one is converted before a stall."""
    path = write_video(tmp_path / "c.avi", (moving_square(i) for i in range(60)), fps=50)
    source = WatchedSource(
        lambda: cv2.VideoCapture(str(path)),
        SystemClock(),
        read_timeout_s=0.4,
        pace_s=0.02,
        ends_at_eof=True,
        queue_size=64,
        wanted=lambda mono: False,
    )
    events = read_to_end(source)
    assert not any(isinstance(e, SourceDown) for e in events)
    frames = [e for e in events if isinstance(e, Frame)]
    assert len(events) == 60 and 2 <= len(frames) <= 20
    gaps = [b.mono - a.mono for a, b in zip(frames, frames[1:], strict=False)]
    assert max(gaps) < 0.4


def test_a_failing_wanted_converts_every_frame_and_is_no_outage(tmp_path) -> None:
    path = write_video(tmp_path / "c.avi", (moving_square(i) for i in range(20)), fps=50)

    def broken(mono: float) -> bool:
        raise RuntimeError("a bug in the caller")

    source = WatchedSource(
        lambda: cv2.VideoCapture(str(path)),
        SystemClock(),
        pace_s=0.01,
        ends_at_eof=True,
        queue_size=64,
        wanted=broken,
    )
    events = read_to_end(source)
    assert len(events) == 20 and all(isinstance(e, Frame) for e in events)
