"""The daemon reading a real RTSP camera (GStreamer's RTSP server, H.264, on loopback).

The camera streams rendered footage in a loop whose seam falls where the belt is empty,
so the parts that passed are known from the frames read. It counts every part; a camera
restarted mid-run is a `no_data` gap and a reconnect; a stalled one (SIGSTOP) is caught
by the watchdog; lost packets give damaged frames, counted, alarmed, never counted from.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.app import Agent
from agent.config import Config, parse_config
from agent.events import PartEvent, StateEvent
from agent.inspection import NoInspection
from agent.sim.line import Phase, Scenario, plan_parts, render_frames
from agent.store import open_readonly

FPS = 20


@dataclass(frozen=True)
class Footage:
    """JPEG frames of one loop, and the frame indexes (within it) where parts cross."""

    folder: Path
    frames: int
    crossings: tuple[int, ...]
    roi: tuple[int, int, int, int]

    def parts_in(self, frames_read: int) -> int:
        """Parts that crossed in the first `frames_read` frames of the stream."""
        loops, rest = divmod(frames_read, self.frames)
        return loops * len(self.crossings) + sum(c < rest for c in self.crossings)


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> Footage:
    """10.5 s of a running belt, fed for 6 s: empty at both ends, so it loops cleanly."""
    scenario = Scenario(
        phases=(Phase(1.0, feeding=False), Phase(6.0), Phase(3.5, feeding=False)),
        width=320,
        height=240,
        fps=float(FPS),
        speed_px_s=120.0,
        size_px=(32.0, 38.0),
        pitch_s=(0.6, 1.1),
        seed=3,
    )
    rendered = list(render_frames(scenario))
    assert not rendered[0][2] and not rendered[-1][2], "parts on the belt at the seam"
    start, end = 0, len(rendered)
    folder = tmp_path_factory.mktemp("rtsp-frames")
    for n, (image, _, _) in enumerate(rendered[start:end]):
        cv2.imwrite(str(folder / f"{n:05d}.jpg"), image)
    truths, _ = plan_parts(scenario)
    crossings = sorted(
        round(p.t_count * FPS) - start
        for p in truths
        if p.t_count is not None and start <= round(p.t_count * FPS) < end
    )
    return Footage(folder, end - start, tuple(crossings), scenario.roi)


def daemon_config(url: str, roi: tuple[int, int, int, int], db: Path) -> Config:
    return parse_config(
        {
            "line": {"id": "rtsp-test", "ideal_cycle_s": 0.5},
            "camera": {
                "source": url,
                "fps": FPS,
                "read_timeout_s": 1.5,
                "open_timeout_s": 3.0,
                "freeze_after_s": 3.0,
            },
            "vision": {"roi": list(roi)},
            "downtime": {"stop_after_s": 3.0},  # longer than the empty belt at the seam
            "store": {"path": str(db)},
            "mqtt": {"enabled": False},
        }
    )


@pytest.fixture
def run_daemon() -> Iterator[Callable[[Config], Agent]]:
    """Start `Agent(config).run` in a thread; stopped at the end of the test."""
    running: list[tuple[threading.Event, threading.Thread]] = []

    def start(config: Config) -> Agent:
        agent = Agent(config, inspector=NoInspection())
        stop = threading.Event()
        thread = threading.Thread(target=agent.run, args=(stop,), name="agent-under-test")
        thread.start()
        running.append((stop, thread))
        return agent

    yield start
    for stop, thread in running:
        stop.set()
        thread.join(20)


def watch(footage: Footage, rtsp_camera, run_daemon, tmp_path: Path):  # type: ignore[no-untyped-def]
    """(camera, store path, daemon): an RTSP camera streaming `footage`, a daemon on it."""
    camera = rtsp_camera(footage.folder, FPS)
    db = tmp_path / "line.db"
    return camera, db, run_daemon(daemon_config(camera.url, footage.roi, db))


def counted(agent: Agent) -> int:
    return agent.recorder.counters.written if agent.recorder else 0


def camera_stats(agent: Agent) -> dict:
    return dict(agent.source.stats()) if agent.source is not None else {}


def parts(db: Path) -> list[PartEvent]:
    with open_readonly(db) as store:
        return [e for e in store.events() if isinstance(e, PartEvent)]


def states(db: Path) -> list[StateEvent]:
    with open_readonly(db) as store:
        return [e for e in store.events() if isinstance(e, StateEvent)]


def test_rtsp_counts_every_part_and_rides_out_a_restart_and_a_stall(
    footage: Footage, rtsp_camera, run_daemon, eventually, tmp_path: Path
) -> None:
    camera, db, agent = watch(footage, rtsp_camera, run_daemon, tmp_path)
    # one and a half loops from the stream's first frame, then the camera goes away
    assert eventually(lambda: camera_stats(agent).get("frames_read", 0) >= 1.5 * footage.frames, 60)
    camera.stop()
    assert eventually(lambda: agent.health.camera_down is not None, 20)
    stats = camera_stats(agent)
    expected = footage.parts_in(stats["frames_read"])
    assert eventually(lambda: abs(len(parts(db)) - expected) <= 1, 10), (
        len(parts(db)),
        expected,
        stats,
    )

    camera.start()  # back on the same port: read again within about a second
    assert eventually(lambda: agent.health.camera_down is None, 30)
    back = counted(agent)
    assert eventually(lambda: counted(agent) >= back + 3, 30)

    camera.stall()  # connected, but nothing comes: the watchdog's business
    assert eventually(lambda: "stalled" in (agent.health.camera_down or ""), 20)
    camera.resume()
    assert eventually(lambda: agent.health.camera_down is None, 30)
    again = counted(agent)
    assert eventually(lambda: counted(agent) >= again + 3, 30)

    names = [s.state for s in states(db)]
    gaps = [i for i, name in enumerate(names) if name == "no_data"]
    assert len(gaps) >= 2, names
    assert "stopped" not in names, names  # an absent camera is never a machine stop
    for i in gaps:
        assert i + 1 < len(names) and names[i + 1] == "running", names


def test_damaged_frames_are_counted_alarmed_and_never_counted_from(
    footage: Footage, rtsp_camera, run_daemon, eventually, tmp_path: Path
) -> None:
    camera, db, agent = watch(footage, rtsp_camera, run_daemon, tmp_path)
    assert eventually(lambda: counted(agent) >= 2, 60)
    camera.drop(4)  # a quarter of the packets lost: every frame damaged
    assert eventually(lambda: camera_stats(agent).get("frames_damaged", 0) >= 20, 30)
    assert eventually(lambda: any("damaged" in a for a in agent.stats()["alarms"]), 10)
    before = len(parts(db))
    assert eventually(lambda: agent.health.camera_down is not None, 20)  # nothing usable
    assert "damaged" in (agent.health.camera_down or "")
    assert len(parts(db)) <= before + 1  # at most a part already in view when it began
    camera.drop(0)
    assert eventually(lambda: agent.health.camera_down is None, 30)
    again = counted(agent)
    assert eventually(lambda: counted(agent) >= again + 3, 30)
    names = [s.state for s in states(db)]
    assert "no_data" in names and "stopped" not in names, names


def test_a_few_lost_packets_cost_no_count(
    footage: Footage, rtsp_camera, run_daemon, eventually, tmp_path: Path
) -> None:
    camera = rtsp_camera(footage.folder, FPS)
    camera.drop(1000)  # now and then a slice lost (every few seconds), from the start
    db = tmp_path / "line.db"
    agent = run_daemon(daemon_config(camera.url, footage.roi, db))
    assert eventually(lambda: camera_stats(agent).get("frames_read", 0) >= 1.5 * footage.frames, 60)
    camera.stop()
    assert eventually(lambda: agent.health.camera_down is not None, 20)
    stats = camera_stats(agent)
    assert stats["frames_damaged"] > 0
    expected = footage.parts_in(stats["frames_read"])
    assert eventually(lambda: abs(len(parts(db)) - expected) <= 1, 10), (len(parts(db)), expected)
    assert np.all(np.diff([p.ts.timestamp() for p in parts(db)]) > 0)
