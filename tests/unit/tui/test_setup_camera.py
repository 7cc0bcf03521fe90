"""Setup over a frame of the live camera: a real HTTP MJPEG camera on loopback."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from agent.capture.mjpeg import MjpegServer
from agent.config import parse_config
from agent.errors import UserError
from tui.camera import grab_frame
from tui.screens.setup import SetupScreen


def belt(i: int) -> np.ndarray:
    """BGR: a dark floor, a blue band (rows 80-160), a grey part moving right."""
    image = np.full((240, 320, 3), 30, np.uint8)
    image[80:160] = (200, 40, 40)
    x = 10 + (i * 4) % 280
    image[100:140, x : x + 30] = 170
    return image


def line_config(source: str) -> str:
    return (
        '[line]\nid = "press-3"\nideal_cycle_s = 1.0\n\n'
        f'[camera]\nsource = "{source}"\nopen_timeout_s = 1.0\nread_timeout_s = 0.5\n'
        "reopen_backoff_max_s = 0.3\n\n"
        '[vision]\nroi = [280, 60, 100, 100]\ndirection = "left_to_right"\n'
    )


@pytest.fixture
def camera():
    with MjpegServer(belt, fps=20) as server:
        yield server


def test_grab_frame_gives_the_cameras_picture_as_rgb(camera) -> None:
    config = parse_config(tomllib.loads(line_config(camera.url)))
    frame = grab_frame(config, timeout_s=5.0)
    assert frame.shape == (240, 320, 3)
    band = frame[90:100, :, :].reshape(-1, 3).mean(axis=0)  # blue in BGR is (200, 40, 40)
    assert band[2] > 150 and band[0] < 90, band


def test_grab_frame_says_when_no_frame_comes() -> None:
    server = MjpegServer(belt, fps=20)
    url = server.url
    server.stop()  # nobody listens on the port any more
    config = parse_config(tomllib.loads(line_config(url)))
    with pytest.raises(UserError, match=r"no frame from camera http://127\.0\.0\.1:\d+/.* 1 s"):
        grab_frame(config, timeout_s=1.0)
    no_camera = parse_config({"line": {"id": "p", "ideal_cycle_s": 1.0}})
    with pytest.raises(UserError, match=r"no \[camera\] section"):
        grab_frame(no_camera)


async def test_setup_draws_over_the_camera_and_writes(
    camera, line_db, make_app, settle, tmp_path
) -> None:
    config = tmp_path / "line.toml"
    config.write_text(line_config(camera.url))
    app = make_app(line_db, config_path=config)  # no --video: the camera
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SetupScreen)
        assert screen.frame is not None and screen.frame.shape == (240, 320, 3)
        assert screen.roi == (220, 60, 100, 100)  # clamped into the camera's frame
        status = str(screen.query_one("#setup-status").render())
        assert f"a frame of camera {camera.url}" in status and "320×240" in status
        first = screen.frame
        await pilot.press("n")  # a fresh frame: the part has moved on
        await settle(pilot)
        assert screen.frame is not first and not np.array_equal(screen.frame, first)
        await pilot.press("left", "w")
        await settle(pilot)
    assert tomllib.loads(config.read_text())["vision"]["roi"] == [212, 60, 100, 100]


async def test_setup_says_when_the_camera_gives_nothing(
    line_db, make_app, settle, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(SetupScreen, "camera_timeout_s", 1.0)
    server = MjpegServer(belt, fps=20)
    url = server.url
    server.stop()
    config = tmp_path / "line.toml"
    config.write_text(line_config(url))
    app = make_app(line_db, config_path=config)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        assert app.screen.frame is None
        status = str(app.screen.query_one("#setup-status").render())
        assert f"no frame from camera {url} within 1 s" in status
