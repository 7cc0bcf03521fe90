"""A real network camera (HTTP MJPEG over loopback, read by FFmpeg) that vanishes and freezes."""

from __future__ import annotations

import time

from capture_helpers import moving_square

from agent.capture import Frame, SourceDown, SourceUp
from agent.capture.mjpeg import MjpegServer
from agent.capture.sources import open_source
from agent.capture.watchdog import WatchedSource
from agent.clock import SystemClock
from agent.config import CameraConfig


def read_until(source: WatchedSource, done, limit_s: float = 15.0) -> list:
    events: list = []
    give_up = time.monotonic() + limit_s
    while not done(events):
        assert time.monotonic() < give_up, f"gave up; got {[type(e).__name__ for e in events]}"
        event = source.read(0.05)
        if event is not None:
            events.append(event)
    return events


def frames_after(events: list, marker: type) -> int:
    seen = [i for i, e in enumerate(events) if isinstance(e, marker)]
    return sum(isinstance(e, Frame) for e in events[seen[-1] :]) if seen else 0


def camera(url: str, **overrides: float) -> CameraConfig:
    settings = {"open_timeout_s": 1.0, "read_timeout_s": 0.5, "reopen_backoff_max_s": 0.4}
    settings.update(overrides)
    return CameraConfig(source=url, **settings)


def test_a_network_camera_that_vanishes_and_comes_back() -> None:
    server = MjpegServer(moving_square, fps=25)
    port = server.port
    source = open_source(camera(server.url), SystemClock(), backoff_initial_s=0.1)
    try:
        before = read_until(source, lambda ev: len(ev) >= 5)
        server.stop()  # the camera vanishes
        outage = read_until(source, lambda ev: any(isinstance(e, SourceDown) for e in ev))
        read_until(source, lambda ev: source.stats()["reopens"] >= 2)  # refused meanwhile
        assert not source.connected
        server = MjpegServer(moving_square, fps=25, port=port)  # and comes back
        after = read_until(source, lambda ev: frames_after(ev, SourceUp) >= 5)
    finally:
        source.close()
        server.stop()
    events = before + outage + after
    assert [type(e).__name__ for e in events if not isinstance(e, Frame)] == [
        "SourceDown",
        "SourceUp",
    ]
    down = next(e for e in events if isinstance(e, SourceDown))
    up = next(e for e in events if isinstance(e, SourceUp))
    frames = [e for e in events if isinstance(e, Frame)]
    last_before = [f for f in frames if f.mono <= down.mono][-1]
    assert down.mono == last_before.mono
    assert up.mono > down.mono
    assert [f.index for f in frames] == list(range(len(frames)))
    stats = source.stats()
    assert stats["outages"] == 1
    assert stats["connected"] is True
    assert stats["invalid_empty"] == stats["invalid_truncated"] == 0


def test_a_network_camera_that_freezes_is_reopened_until_it_moves_again() -> None:
    with MjpegServer(moving_square, fps=25) as server:
        source = open_source(
            camera(server.url, freeze_after_s=0.4), SystemClock(), backoff_initial_s=0.1
        )
        try:
            read_until(source, lambda ev: len(ev) >= 5)
            server.freeze()
            frozen = read_until(source, lambda ev: any(isinstance(e, SourceDown) for e in ev))
            read_until(source, lambda ev: source.stats()["reopens"] >= 1)
            server.unfreeze()
            back = read_until(source, lambda ev: frames_after(ev, SourceUp) >= 3)
        finally:
            source.close()
    down = frozen[-1]
    assert isinstance(down, SourceDown)
    assert "frozen" in down.why
    identical = [f for f in frozen if isinstance(f, Frame) and f.mono >= down.mono]
    assert len(identical) >= 2  # the frozen frames already delivered lie after down.mono
    assert all((f.image == identical[0].image).all() for f in identical)
    assert any(isinstance(e, SourceUp) for e in back)
