from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.capture import EndOfStream, Frame, Skipped, SourceError
from agent.capture.file import VideoFileSource
from agent.errors import UserError

START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def read_all(source: VideoFileSource) -> list:
    frames = []
    with pytest.raises(EndOfStream):
        while True:
            frames.append(source.read(0.0))
    return frames


def test_file_source_ends_with_every_frame_on_the_video_time_line(make_video) -> None:
    path = make_video(n=37, fps=12.5)
    with VideoFileSource(path, START) as source:
        assert source.fps == pytest.approx(12.5)
        assert source.size == (96, 64)
        assert source.frame_count in (None, 37)
        frames = read_all(source)
        with pytest.raises(EndOfStream):  # stays ended
            source.read(0.0)
    assert [f.index for f in frames] == list(range(37))
    for f in frames:
        assert f.mono == pytest.approx(f.index / 12.5)
        assert f.wall == START + timedelta(seconds=f.mono)
        assert f.image.shape == (64, 96, 3)
    assert source.stats()["frames_in"] == 37


def test_read_if_converts_only_the_wanted_frames_and_keeps_the_time_line(make_video) -> None:
    path = make_video(n=20, fps=10.0)
    with VideoFileSource(path, START) as source:
        full = read_all(source)
    asked: list[float] = []

    def every_third(mono: float) -> bool:
        asked.append(mono)
        return round(mono * 10) % 3 == 0

    items = []
    with VideoFileSource(path, START) as source, pytest.raises(EndOfStream):
        while True:
            items.append(source.read_if(every_third))
    assert [i.index for i in items] == list(range(20))
    assert [i.mono for i in items] == [f.mono for f in full]
    assert [i.wall for i in items] == [f.wall for f in full]
    # the first frame is decoded while opening, so it always comes with its pixels
    assert [isinstance(i, Frame) for i in items] == [k == 0 or k % 3 == 0 for k in range(20)]
    assert all(isinstance(i, Skipped) for i in items if i.index % 3 and i.index)
    for item in items:
        if isinstance(item, Frame):  # the same pixels as reading every frame
            assert (item.image == full[item.index].image).all()
    assert asked[:19] == [f.mono for f in full[1:]]  # then once more, at the end
    assert source.frames_read == 20


def test_missing_file_is_a_user_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.avi"
    with pytest.raises(SourceError, match="video file not found: .*nope.avi") as info:
        VideoFileSource(missing, START)
    assert isinstance(info.value, UserError)
    assert "\n" not in str(info.value)


def test_a_directory_is_not_a_video(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a video file"):
        VideoFileSource(tmp_path, START)


def test_garbage_file_is_undecodable(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.avi"
    garbage.write_bytes(os.urandom(64 * 1024))
    with pytest.raises(SourceError, match="cannot decode video file .*garbage.avi") as info:
        VideoFileSource(garbage, START)
    assert "\n" not in str(info.value)


def test_truncated_header_is_undecodable(make_video, tmp_path: Path) -> None:
    whole = make_video(n=10).read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole[:200])
    with pytest.raises(SourceError, match="cannot decode video file"):
        VideoFileSource(cut, START)


def test_container_without_fps_uses_the_fallback(make_video, monkeypatch) -> None:
    path = make_video(n=5, fps=10)
    import agent.capture.file as file_module

    monkeypatch.setattr(file_module, "_PLAUSIBLE_FPS", (100.0, 200.0))
    with VideoFileSource(path, START, fps_fallback=7.0) as source:
        assert source.fps == 7.0
        frames = read_all(source)
    assert frames[-1].mono == pytest.approx(4 / 7.0)


def ensure_vtest() -> Path:
    """Debian's opencv-doc ships vtest.avi, a real street recording; install it if absent."""
    if not VTEST.exists():
        subprocess.run(
            ["apt-get", "install", "-y", "opencv-doc"],
            check=True,
            capture_output=True,
            timeout=600,
        )
    assert VTEST.exists(), "opencv-doc did not install vtest.avi"
    return VTEST


def test_a_real_recording_reads_through(tmp_path: Path) -> None:
    with VideoFileSource(ensure_vtest(), START) as source:
        assert source.size == (768, 576)
        assert source.fps > 0
        frames = read_all(source)
    assert len(frames) > 100
    if source.frame_count is not None:
        assert len(frames) == source.frame_count
    assert frames[-1].mono == pytest.approx(frames[-1].index / source.fps)
    assert source.stats()["invalid_black"] == 0
