"""The daemon reading a real network camera (HTTP MJPEG on loopback) that vanishes,
returns and freezes: each outage is `no_data`, never downtime, and counting goes on.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.app import Agent
from agent.capture.mjpeg import MjpegServer
from agent.config import parse_config
from agent.events import PartEvent, StateEvent
from agent.inspection import NoInspection
from agent.oee import compute_oee
from agent.sim.line import Phase, Scenario, render_frames
from agent.store import open_readonly
from tests.conftest import wait_until

FPS = 20.0


@pytest.fixture(scope="module")
def belt() -> tuple[list[bytes], Scenario]:
    """8 s of a running belt as JPEGs, played in a loop by the camera."""
    scenario = Scenario(
        phases=(Phase(8.0),),
        width=320,
        height=240,
        fps=FPS,
        speed_px_s=120.0,
        size_px=(32.0, 38.0),
        pitch_s=(0.6, 0.8),
        seed=3,
    )
    jpegs = [cv2.imencode(".jpg", frame)[1].tobytes() for frame, _, _ in render_frames(scenario)]
    return jpegs, scenario


def test_a_camera_that_vanishes_returns_and_freezes(
    belt: tuple[list[bytes], Scenario], tmp_path: Path
) -> None:
    jpegs, scenario = belt

    def render(i: int) -> np.ndarray:
        return cv2.imdecode(np.frombuffer(jpegs[i % len(jpegs)], np.uint8), cv2.IMREAD_COLOR)

    server = MjpegServer(render, fps=FPS)
    port = server.port
    config = parse_config(
        {
            "line": {"id": "camera-test", "ideal_cycle_s": 0.5},
            "camera": {
                "source": server.url,
                "fps": FPS,
                "read_timeout_s": 1.0,
                "open_timeout_s": 3.0,
                "freeze_after_s": 2.0,
                "reopen_backoff_max_s": 1.0,
            },
            "vision": {"roi": list(scenario.roi)},
            "downtime": {"stop_after_s": 1.0},
            "store": {"path": str(tmp_path / "line.db")},
            "mqtt": {"enabled": False},
        }
    )
    agent = Agent(config, inspector=NoInspection())
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(stop,), name="agent-under-test")
    thread.start()

    def counted() -> int:
        return agent.recorder.counters.written if agent.recorder else 0

    try:
        assert wait_until(lambda: agent.health.frames > 60 and counted() >= 3, 30)
        server.stop()  # the camera vanishes
        time.sleep(3.0)
        assert agent.health.camera_down is not None
        server = MjpegServer(render, fps=FPS, port=port)  # and comes back on its address
        assert wait_until(lambda: agent.health.camera_down is None, 20)
        back = counted()
        assert wait_until(lambda: counted() >= back + 3, 20)
        server.freeze()  # the picture freezes: frozen frames are delivered for 2 s
        assert wait_until(lambda: agent.health.camera_outages == 2, 20)
        server.unfreeze()
        assert wait_until(lambda: agent.health.camera_down is None, 20)
        again = counted()
        assert wait_until(lambda: counted() >= again + 3, 20)
    finally:
        stop.set()
        thread.join(20)
        server.stop()

    with open_readonly(config.store_path) as store:
        events = store.events()
    for a, b in zip(events, events[1:], strict=False):
        assert b.ts >= a.ts
    states = [e for e in events if isinstance(e, StateEvent)]
    names = [s.state for s in states]
    assert names[0] == "running" and names[-1] == "no_data"
    gaps = [i for i, s in enumerate(states[:-1]) if s.state == "no_data"]
    assert len(gaps) == 2, names
    for i in gaps:
        assert states[i + 1].state == "running"
        assert any(isinstance(e, PartEvent) and e.ts > states[i + 1].ts for e in events)
    vanished = (states[gaps[0] + 1].ts - states[gaps[0]].ts).total_seconds()
    assert vanished >= 2.5
    frozen = (states[gaps[1] + 1].ts - states[gaps[1]].ts).total_seconds()
    assert frozen >= 1.5  # backdated to the first identical frame
    # the frozen frames looked like a halted belt: the stop the pipeline saw in them
    # ends where no_data begins (backdated to the first identical frame), length ~0
    assert names[gaps[1] - 1] == "stopped"
    assert (states[gaps[1]].ts - states[gaps[1] - 1].ts).total_seconds() < 0.2
    total = compute_oee(events, config).total
    assert total.tally.small_stop_s + total.tally.unassigned_s < 0.5
    assert total.tally.no_data_s >= vanished + frozen - 0.01
