"""The daemon on rendered footage with a clock the test moves.

`ScriptedCamera` is a fake of our own `LiveSource` interface: it decodes a real rendered
recording with the real decoder (`VideoFileSource`) and stamps each frame with a
`StepClock` that advances one frame period per frame, so a test runs as fast as the
pipeline and can step the wall clock, or make the camera vanish, at a chosen frame.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.capture import EndOfStream, Frame, SourceDown, SourceUp
from agent.capture.file import VideoFileSource
from agent.config import Config, parse_config
from agent.sim.line import GroundTruth, Phase, Scenario, render_line


@dataclass
class StepClock:
    """Monotonic time moved by hand; the wall clock can be stepped (NTP, an operator)."""

    start: datetime
    now: float = 1000.0
    offset: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return self.start + timedelta(seconds=self.now - 1000.0 + self.offset)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


Hook = Callable[["ScriptedCamera"], None]


class ScriptedCamera:
    """Frames of a recording, stamped by `clock`; `hooks[i]` runs before frame i."""

    def __init__(
        self,
        path: Path,
        clock: StepClock,
        hooks: dict[int, Hook] | None = None,
        pace_s: float | None = None,
    ) -> None:
        self.video = VideoFileSource(path, clock.wall())
        self.fps = self.video.fps
        self.clock = clock
        self.hooks = hooks or {}
        self.pace_s = pace_s
        self.index = 0
        self.markers: deque[SourceDown | SourceUp] = deque()
        self.skip = 0
        self.closed = False

    def vanish(self, frames: int, why: str = "unplugged") -> None:
        """The camera gives nothing for `frames` frames, from this one on."""
        last = self.clock.now - 1.0 / self.fps  # backdated to the last good frame
        self.markers.append(
            SourceDown(last, self.clock.wall() - timedelta(seconds=1 / self.fps), why)
        )
        self.skip = frames

    def read(self, timeout: float) -> Frame | SourceDown | SourceUp | None:
        if self.closed:
            time.sleep(min(timeout, 0.01))
            return None
        while True:
            if self.markers:
                return self.markers.popleft()
            try:
                frame = self.video.read()
            except EndOfStream:
                self.video.close()
                raise
            if self.index:
                self.clock.advance(1.0 / self.fps)
            hook = self.hooks.pop(self.index, None)
            self.index += 1
            if hook is not None:
                hook(self)
            if self.skip:
                self.skip -= 1
                if not self.skip:
                    # back with the next frame, one period on
                    up = self.clock.now + 1.0 / self.fps
                    wall = self.clock.wall() + timedelta(seconds=1.0 / self.fps)
                    self.markers.append(SourceUp(up, wall))
                continue
            if self.pace_s:
                time.sleep(self.pace_s)
            return Frame(self.index - 1, self.clock.now, self.clock.wall(), frame.image)

    def stats(self) -> dict[str, int | bool]:
        return {"frames_in": self.index, "frames_dropped": 0, "connected": not self.skip}

    def close(self) -> None:
        self.closed = True  # the decoder is released by the reading thread


@pytest.fixture(scope="session")
def footage(tmp_path_factory: pytest.TempPathFactory) -> GroundTruth:
    """12 s of belt at 320x240: 5 s running, a 3 s halt, 4 s running."""
    scenario = Scenario(
        phases=(Phase(5.0), Phase(3.0, moving=False), Phase(4.0)),
        width=320,
        height=240,
        speed_px_s=120.0,
        size_px=(32.0, 38.0),
        seed=7,
        codec="MJPG",
    )
    return render_line(scenario, tmp_path_factory.mktemp("footage") / "belt.avi")


@pytest.fixture
def line_config(footage: GroundTruth, tmp_path: Path) -> Callable[..., Config]:
    """`line_config(**sections)` -> the footage's line, its store in tmp_path."""

    def make(**overrides: Any) -> Config:
        data = footage.config(line_id="daemon-test")
        data["store"] = {"path": str(tmp_path / "line.db")}
        data["mqtt"] = {"enabled": False}
        for section, values in overrides.items():
            data.setdefault(section, {}).update(values)
        return parse_config(data, base_dir=tmp_path)

    return make


@pytest.fixture
def clock() -> StepClock:
    return StepClock(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5))


def run_agent(agent: Any, timeout: float = 60.0) -> None:
    """Run `agent` until its footage ends (or `timeout`), in this thread."""
    stop = threading.Event()
    timer = threading.Timer(timeout, stop.set)
    timer.start()
    try:
        agent.run(stop)
    finally:
        timer.cancel()
    assert not stop.is_set(), "the footage did not end in time"


@pytest.fixture
def run() -> Iterator[Callable[..., None]]:
    yield run_agent


@pytest.fixture
def make_camera() -> Callable[..., ScriptedCamera]:
    """`make_camera(path, clock, hooks=None, pace_s=None)` -> a ScriptedCamera."""
    return ScriptedCamera


@pytest.fixture
def make_clock() -> Callable[..., StepClock]:
    """`make_clock(start)` -> a StepClock."""
    return StepClock


@pytest.fixture
def baseline(footage: GroundTruth, line_config: Callable[..., Config], clock: StepClock) -> Any:
    """The stored events of the footage run without incident, to compare with."""
    from agent.app import Agent
    from agent.inspection import NoInspection
    from agent.store import open_readonly

    config = line_config()
    agent = Agent(
        config,
        clock=clock,
        source_factory=lambda c, k, w: ScriptedCamera(footage.path, clock),
        inspector=NoInspection(),
    )
    run_agent(agent)
    with open_readonly(config.store_path) as store:
        events = store.events()
    Path(config.store_path).unlink()
    clock.now, clock.offset = 1000.0, 0.0
    return events
