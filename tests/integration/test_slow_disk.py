"""A slow, then stalled, disk under the daemon: no frame dropped, no part missed.

The store lives on a real FUSE file system of our own (tests/slow_fs.py, run by the
system python3 with Debian's python3-fusepy) over a real folder: SQLite writes real
files, and every fsync takes 200 ms. Midway the disk stalls outright (every fsync
waits) for a few seconds. The daemon reads rendered footage as a camera in real time;
its frames must all be processed, its parts all counted and, after stop, all stored,
and its health sample must say that events are waiting for the disk while it stalls.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agent import health_stats
from agent.app import Agent
from agent.config import parse_config
from agent.events import PartEvent, StateEvent
from agent.inspection import NoInspection
from agent.sim.line import GroundTruth, Phase, Scenario, render_line
from agent.store import open_readonly
from tests.slow_fs import mounted, unavailable

#: When the disk stalls and for how long (seconds after the first frame).
STALL_FROM_S, STALL_FOR_S = 2.5, 3.0


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> GroundTruth:
    """8 s of a running belt at 640x480, 30 fps (240 frames, 9 parts counted)."""
    scenario = Scenario(phases=(Phase(8.0),), width=640, height=480, fps=30.0, seed=5)
    return render_line(scenario, tmp_path_factory.mktemp("slow-disk") / "belt.avi")


@pytest.fixture
def slow_disk(tmp_path: Path) -> Any:
    why = unavailable()
    if why:
        pytest.skip(f"no slow file system here: {why}")
    hold = tmp_path / "hold"
    with mounted(tmp_path / "backing", tmp_path / "slow", 200.0, hold) as disk:
        yield disk, hold


def test_a_slow_and_stalled_disk_costs_no_frame_and_no_part(
    footage: GroundTruth, slow_disk: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    disk, hold = slow_disk
    monkeypatch.setattr(health_stats, "QUEUE_ALARM_S", 1.0)  # the stall is 3 s, not 10
    config = footage.config(line_id="slow-disk")
    # every event its own commit: the worst case for the disk
    config["store"] = {"path": str(disk / "line.db"), "commit_interval_s": 0}
    config["mqtt"] = {"enabled": False}
    agent = Agent(parse_config(config), inspector=NoInspection(), stats_interval_s=0.25)
    samples: list[dict[str, Any]] = []
    done = threading.Event()

    def watch() -> None:
        began = None
        while not done.wait(0.1):
            if began is None:  # opening the store on this disk takes seconds itself
                began = time.monotonic() if agent.health.frames else None
                continue
            at = time.monotonic() - began
            if STALL_FROM_S <= at < STALL_FROM_S + STALL_FOR_S:
                hold.touch()
            elif hold.exists():
                hold.unlink()
            if agent.last_stats is not None and agent.last_stats not in samples:
                samples.append(agent.last_stats)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        agent.run(threading.Event())  # until the footage ends, then an orderly stop
    finally:
        done.set()
        watcher.join()
        hold.unlink(missing_ok=True)
    final = agent.last_stats
    assert final is not None
    assert final["dropped_frames"] == 0
    assert final["camera"]["frames_in"] == footage.frames
    assert final["frames"] == footage.frames
    stalled = [s for s in samples if s["queue_ages_s"]["recorder"] >= 1.0]
    assert stalled, "no health sample saw the events waiting for the disk"
    assert any(a.startswith("store: events waiting") for s in stalled for a in s["alarms"])
    assert max(s["queue_depths"]["recorder"] for s in stalled) >= 1
    assert final["queue_depths"]["recorder"] == 0 and final["events_dropped"] == 0
    with open_readonly(disk / "line.db") as store:
        events = store.events()
    parts = [e for e in events if isinstance(e, PartEvent)]
    assert len(parts) == len(footage.counted)
    assert [e.state for e in events if isinstance(e, StateEvent)] == ["running", "no_data"]
    assert [e.ts for e in events] == sorted(e.ts for e in events)
