"""The camera moved: the daemon reading rendered footage whose view goes dark, blurs or
shifts for a few seconds on a running line books that time `no_data`, never a stop,
raises the camera alarm while it lasts and counts on once the view is back.

The footage is played as a camera (`camera.source` a video file, at its own rate). The
view check's thresholds were set on seeds 11 and 12; this is seed 31.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import pytest

from agent.app import Agent
from agent.capture.view import save_reference
from agent.config import parse_config
from agent.events import PartEvent, StateEvent
from agent.inspection import NoInspection
from agent.inspection.teach import _first_frame
from agent.sim.camera import moved_frames
from agent.sim.line import Phase, Scenario
from agent.store import open_readonly

FPS = 20.0
SPAN_S = (3.0, 6.0)


@pytest.mark.parametrize(("kind", "amount"), [("darken", 0.3), ("blur", 3.0), ("shift", 8.0)])
def test_a_changed_view_is_no_data_with_an_alarm_never_a_stop(
    kind: str, amount: float, tmp_path: Path, eventually
) -> None:
    scenario = Scenario(
        phases=(Phase(9.0),), width=320, height=240, fps=FPS, speed_px_s=120.0, seed=31
    )
    video = tmp_path / "belt.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), FPS, (320, 240))
    for image, _, _ in moved_frames(scenario, kind, amount, SPAN_S):
        writer.write(image)
    writer.release()
    config = parse_config(
        {
            "line": {"id": "view-test", "ideal_cycle_s": 0.5},
            "camera": {"source": str(video), "fps": FPS},
            "vision": {"roi": list(scenario.roi)},
            "downtime": {"stop_after_s": 1.0},
            "store": {"path": str(tmp_path / "line.db")},
            "mqtt": {"enabled": False},
        }
    )
    agent = Agent(config, inspector=NoInspection())
    alarms: list[str] = []
    thread = threading.Thread(target=agent.run, args=(threading.Event(),), daemon=True)
    thread.start()
    assert eventually(lambda: agent.health.camera_down is not None, 60)
    alarms += agent.stats()["alarms"]
    thread.join(60)  # the recording ends: the daemon stops by itself
    assert not thread.is_alive()

    assert any(a.startswith("camera: view") for a in alarms), alarms
    with open_readonly(config.store_path) as store:
        events = store.events()
    states = [e for e in events if isinstance(e, StateEvent)]
    names = [s.state for s in states]
    assert "stopped" not in names, names  # the line never stopped
    gaps = [i for i, s in enumerate(states[:-1]) if s.state == "no_data"]
    assert len(gaps) == 1, names
    start = states[0].ts
    began = (states[gaps[0]].ts - start).total_seconds()
    ended = (states[gaps[0] + 1].ts - start).total_seconds()
    # The stamps are real time: the file is read no faster than its frame rate (the
    # lower bounds hold as they are) but a loaded machine reads it slower, so the upper
    # bounds are on times shrunk by the whole run's stretch (its last `no_data` is at
    # the last frame). Backdated to the first check that saw the change (0.5 s before
    # the verdict), back after three right checks; the upper bounds are loose (the
    # delay on the footage's time line is benchmarks/camera_moved.py's).
    stretch = max(1.0, (states[-1].ts - start).total_seconds() / ((scenario.frames - 1) / FPS))
    assert SPAN_S[0] - 0.3 <= began and began / stretch <= SPAN_S[0] + 1.5, (began, stretch)
    assert SPAN_S[1] <= ended and ended / stretch <= SPAN_S[1] + 3.0, (ended, stretch)
    parts = [e for e in events if isinstance(e, PartEvent)]
    assert any((p.ts - start).total_seconds() > ended for p in parts)  # counting goes on


def test_a_camera_bumped_since_teach_is_no_data_from_the_start(tmp_path: Path, eventually) -> None:
    scenario = Scenario(
        phases=(Phase(6.0),), width=320, height=240, fps=FPS, speed_px_s=120.0, seed=32
    )
    video, before = tmp_path / "belt.avi", tmp_path / "taught.avi"
    for path, span in ((video, (0.0, 99.0)), (before, (0.0, 0.0))):  # bumped all along
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, (320, 240))
        for image, _, _ in moved_frames(scenario, "shift", 12.0, span):
            writer.write(image)
        writer.release()
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    save_reference(model_dir, _first_frame(before)[0])  # what `teach` keeps from its footage
    config = parse_config(
        {
            "line": {"id": "view-test", "ideal_cycle_s": 0.5},
            "camera": {"source": str(video), "fps": FPS},
            "vision": {"roi": list(scenario.roi)},
            "inspection": {"model_dir": str(model_dir)},
            "store": {"path": str(tmp_path / "line.db")},
            "mqtt": {"enabled": False},
        }
    )
    agent = Agent(config, inspector=NoInspection())
    thread = threading.Thread(target=agent.run, args=(threading.Event(),), daemon=True)
    thread.start()
    assert eventually(lambda: "view moved" in (agent.health.camera_down or ""), 30)
    thread.join(60)
    with open_readonly(config.store_path) as store:
        events = store.events()
    states = [e for e in events if isinstance(e, StateEvent)]
    # the first frames went out before three checks (0.25 s apart) confirmed the view
    # wrong; no_data is backdated to the first check that saw it (real-time stamps, so
    # the bound is loose); no part is counted after it
    assert [e.state for e in states] == ["running", "no_data"]
    assert (states[1].ts - states[0].ts).total_seconds() < 2.0
    assert all(e.ts <= states[1].ts for e in events if isinstance(e, PartEvent))
