"""`oee-agent replay` on a real recording nobody here made, and on bad input."""

import json
import time
from pathlib import Path

import cv2
import pytest

from agent.__main__ import main
from agent.store import open_readonly
from tests.conftest import write_line_config

#: A real 768x576 street recording shipped by Debian's opencv-doc package
#: (`apt-get install opencv-doc`; the Makefile installs it with the test packages).
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def write_config(folder: Path, roi: list[int], **sections: dict) -> Path:
    return write_line_config(
        folder / "line.toml",
        line_id="street",
        line={"ideal_cycle_s": 1.0},
        camera={"source": "0", "fps": 10},
        vision={"roi": roi, "direction": "left_to_right"},
        inspection={"model_dir": "none"},
        **sections,
    )


def test_a_real_recording_replays_without_error(tmp_path: Path, capsys) -> None:
    assert VTEST.is_file(), "install Debian's opencv-doc (make test does)"
    capture = cv2.VideoCapture(str(VTEST))
    frames = 0
    while capture.grab():
        frames += 1
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    config = write_config(tmp_path, [0, 150, 768, 300])
    report = tmp_path / "report.json"
    db = tmp_path / "street.db"
    code = main(
        [
            "replay",
            str(VTEST),
            "--config",
            str(config),
            "--db",
            str(db),
            "--report",
            str(report),
            "--start",
            "2026-03-02T06:00:00+00:00",
        ]
    )
    assert code == 0
    assert "inspection is off" in capsys.readouterr().err
    out = json.loads(report.read_text())
    assert out["line"] == "street" and out["frames"] == frames > 500
    assert out["fps"] == pytest.approx(fps, abs=0.01)
    assert isinstance(out["parts"], list) and isinstance(out["stops"], list)
    assert all(0 <= p["t"] <= frames / fps for p in out["parts"])
    assert out["oee"]["planned_s"] == pytest.approx((frames - 1) / fps, abs=0.5)
    reader = open_readonly(db)
    try:
        events = reader.events()
        assert events and events[0].state == "running"
        assert len(reader.parts()) == len(out["parts"])
    finally:
        reader.close()


def test_a_missing_video_is_one_clear_error(tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, [0, 0, 64, 64])
    code = main(
        [
            "replay",
            str(tmp_path / "nope.mp4"),
            "--config",
            str(config),
            "--db",
            str(tmp_path / "x.db"),
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "video file not found" in err and "Traceback" not in err


def test_an_undecodable_video_is_one_clear_error(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is not a video\n" * 200)
    config = write_config(tmp_path, [0, 0, 64, 64])
    code = main(["replay", str(bad), "--config", str(config), "--db", str(tmp_path / "x.db")])
    assert code == 1
    err = capsys.readouterr().err
    assert "cannot decode video file" in err and "Traceback" not in err


def test_a_config_without_vision_is_refused(tmp_path: Path, capsys) -> None:
    config = tmp_path / "line.toml"
    config.write_text('[line]\nid = "x"\nideal_cycle_s = 1.0\n', encoding="utf-8")
    code = main(["replay", str(VTEST), "--config", str(config)])
    assert code == 2
    assert "[camera]" in capsys.readouterr().err


def test_a_bad_start_time_is_refused(tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, [0, 0, 64, 64])
    code = main(["replay", str(VTEST), "--config", str(config), "--start", "yesterday"])
    assert code == 1
    assert "--start 'yesterday' is not an ISO 8601 time" in capsys.readouterr().err


def test_realtime_paces_frames_at_the_footage_rate(tmp_path: Path) -> None:
    from agent.sim.line import Phase, Scenario, render_line

    clip = render_line(
        Scenario((Phase(2.0),), width=320, height=240, size_px=(34, 40)), tmp_path / "clip.mp4"
    )
    config = write_config(tmp_path, list(clip.scenario.roi))
    started = time.monotonic()
    code = main(
        [
            "replay",
            str(clip.path),
            "--config",
            str(config),
            "--realtime",
            "--db",
            str(tmp_path / "x.db"),
        ]
    )
    # 60 frames at 30 fps: the last one is due 59/30 s after the first
    assert code == 0 and time.monotonic() - started >= 59 / 30
