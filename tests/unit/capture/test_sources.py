from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from capture_helpers import moving_square, read_to_end, write_video

from agent.capture import Frame, SourceDown, SourceError
from agent.capture import sources as sources_module
from agent.capture.sources import (
    NETWORK_RETRY_S,
    SourceKind,
    classify,
    open_source,
    open_stream,
    redact,
)
from agent.clock import SystemClock
from agent.config import CameraConfig

PI_CAMERA = (
    "libcamerasrc ! video/x-raw,width=640,height=480,framerate=30/1,format=BGR "
    "! videoconvert ! appsink drop=true max-buffers=1"
)


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("0", SourceKind.V4L2_INDEX),
        (" 2 ", SourceKind.V4L2_INDEX),
        ("/dev/video0", SourceKind.V4L2_PATH),
        ("/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920-video-index0", SourceKind.V4L2_PATH),
        ("rtsp://cam.local:554/stream1", SourceKind.STREAM),
        ("RTSPS://user:pw@10.0.0.5/live", SourceKind.STREAM),
        ("http://10.0.0.5/mjpeg", SourceKind.STREAM),
        (PI_CAMERA, SourceKind.GSTREAMER),
        ("v4l2src device=/dev/video0 ! videoconvert ! appsink", SourceKind.GSTREAMER),
        ("footage/line3.mp4", SourceKind.FILE),
        ("/srv/recordings/2026-03-02.avi", SourceKind.FILE),
    ],
)
def test_source_strings_are_classified(source: str, kind: SourceKind) -> None:
    assert classify(source) is kind


def test_an_unknown_url_scheme_is_refused() -> None:
    with pytest.raises(SourceError, match="unsupported URL scheme 'ftp'"):
        classify("ftp://host/video.avi")


def test_passwords_never_reach_logs() -> None:
    assert redact("rtsp://admin:s3cret@10.0.0.5:554/h264") == "rtsp://admin:***@10.0.0.5:554/h264"
    assert redact("rtsp://10.0.0.5/h264") == "rtsp://10.0.0.5/h264"
    assert redact("/dev/video0") == "/dev/video0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rtsp_to_a_closed_port_fails_with_a_clear_error() -> None:
    url = f"rtsp://viewer:hunter2@127.0.0.1:{free_port()}/stream"
    started = time.monotonic()
    with pytest.raises(
        SourceError, match=r"stream rtsp://viewer:\*\*\*@127.*connection refused"
    ) as info:
        open_stream(url, open_timeout_s=1.0, read_timeout_s=1.0)
    assert time.monotonic() - started < 1.0 + 5.0  # bounded: never hangs
    assert "hunter2" not in str(info.value)


def test_rtsp_to_a_server_that_never_answers_gives_up_at_the_open_timeout() -> None:
    with socket.socket() as silent:  # accepts the connection, never speaks RTSP
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"rtsp://127.0.0.1:{silent.getsockname()[1]}/stream"
        started = time.monotonic()
        with pytest.raises(SourceError, match="within 0.5 s"):
            open_stream(url, open_timeout_s=0.5, read_timeout_s=0.5)
        assert time.monotonic() - started < 0.5 + 5.0


def test_an_unreachable_stream_is_no_data_and_retried() -> None:
    camera = CameraConfig(
        source=f"rtsp://127.0.0.1:{free_port()}/x", open_timeout_s=0.5, read_timeout_s=0.5
    )
    source = open_source(camera, SystemClock(), backoff_initial_s=0.05)
    try:
        event = None
        give_up = time.monotonic() + 10
        while event is None and time.monotonic() < give_up:
            event = source.read(0.1)
        assert isinstance(event, SourceDown)
        assert "connection refused" in event.why  # what it is, not a timeout
        while source.stats()["reopens"] < 2 and time.monotonic() < give_up:
            assert source.read(0.1) is None
        assert source.stats()["reopens"] >= 2
    finally:
        source.close()


def test_a_missing_camera_device_is_no_data_not_a_crash() -> None:
    camera = CameraConfig(source="/dev/v4l/by-id/usb-nothing-here-video-index0")
    source = open_source(camera, SystemClock())
    try:
        event = None
        give_up = time.monotonic() + 10
        while event is None and time.monotonic() < give_up:
            event = source.read(0.1)
    finally:
        source.close()
    assert isinstance(event, SourceDown)
    assert event.why == "camera /dev/v4l/by-id/usb-nothing-here-video-index0 not found (unplugged?)"


def test_a_pipeline_without_gstreamer_support_is_a_user_error(monkeypatch) -> None:
    monkeypatch.setattr(sources_module, "has_gstreamer", lambda: False)
    with pytest.raises(SourceError, match="no GStreamer support"):
        open_source(CameraConfig(source=PI_CAMERA), SystemClock())


def test_a_missing_video_file_fails_at_once(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="video file not found"):
        open_source(CameraConfig(source=str(tmp_path / "gone.mp4")), SystemClock())


def test_a_video_file_plays_as_a_camera_and_ends(tmp_path: Path) -> None:
    path = write_video(tmp_path / "line.avi", (moving_square(i) for i in range(12)), fps=40)
    clock = SystemClock()
    source = open_source(CameraConfig(source=str(path)), clock)
    frames = read_to_end(source)
    assert all(isinstance(f, Frame) for f in frames)
    assert len(frames) + source.stats()["frames_dropped"] == 12
    assert frames[0].image.shape == (64, 96, 3)
    # live stamps, paced near the file's 40 fps
    assert frames[-1].mono - frames[0].mono >= (len(frames) - 1) / 40 * 0.5


def test_a_still_scene_in_a_recording_is_not_a_frozen_camera(tmp_path: Path) -> None:
    still = moving_square(3)
    path = write_video(tmp_path / "stop.avi", [still] * 30, fps=100)
    camera = CameraConfig(source=str(path), freeze_after_s=0.05)
    source = open_source(camera, SystemClock(), queue_size=64)
    events = read_to_end(source)
    assert len(events) == 30
    assert all(isinstance(e, Frame) for e in events)


def test_a_relative_video_file_resolves_against_the_config_folder(tmp_path: Path) -> None:
    write_video(tmp_path / "clip.avi", (moving_square(i) for i in range(3)), fps=50)
    source = open_source(CameraConfig(source="clip.avi"), SystemClock(), base_dir=tmp_path)
    try:
        give_up = time.monotonic() + 10
        event = None
        while event is None and time.monotonic() < give_up:
            event = source.read(0.2)
        assert isinstance(event, Frame)
    finally:
        source.close()
    with pytest.raises(SourceError, match="video file not found"):
        open_source(CameraConfig(source="clip.avi"), SystemClock(), base_dir=tmp_path / "x")


def test_a_network_camera_is_retried_at_most_a_second_apart() -> None:
    camera = CameraConfig(
        source=f"rtsp://127.0.0.1:{free_port()}/x",
        open_timeout_s=0.5,
        read_timeout_s=0.5,
        reopen_backoff_max_s=30.0,
    )
    source = open_source(camera, SystemClock(), backoff_initial_s=0.25)
    try:
        assert source.backoff_max_s == NETWORK_RETRY_S == 1.0
        give_up = time.monotonic() + 20
        while source.stats()["reopens"] < 5 and time.monotonic() < give_up:
            source.read(0.1)
    finally:
        source.close()
    gaps = [b - a for a, b in zip(source.attempt_times, source.attempt_times[1:], strict=False)]
    # 0.25, 0.5, 1, 1 (not 2, 4): each retry is a refused TCP connect, so it costs nothing
    assert len(gaps) >= 5
    assert all(gap < NETWORK_RETRY_S + 0.5 for gap in gaps)


def test_a_file_source_keeps_the_configured_backoff(make_video) -> None:
    path = make_video("clip.avi", 5, 10.0)
    camera = CameraConfig(source=str(path), reopen_backoff_max_s=30.0)
    with open_source(camera, SystemClock()) as source:
        assert source.backoff_max_s == 30.0
