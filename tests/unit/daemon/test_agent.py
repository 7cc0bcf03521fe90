"""The daemon in-process on rendered footage: time steps, resume, faults, the watchdog."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.app import Agent
from agent.capture import EndOfStream
from agent.capture.file import VideoFileSource
from agent.config import Config
from agent.errors import UserError
from agent.events import Event, PartEvent, StateEvent
from agent.inspection import NoInspection, Verdict
from agent.oee import compute_oee
from agent.pipeline import LinePipeline, ListSink
from agent.sim.line import GroundTruth
from agent.store import Store, open_readonly
from agent.systemd import Notifier
from tests.conftest import wait_until


def stored(config: Config) -> list[Event]:
    with open_readonly(config.store_path) as store:
        assert store.integrity_check() == "ok"
        return store.events()


def assert_monotone(events: list[Event]) -> None:
    for a, b in zip(events, events[1:], strict=False):
        assert b.ts >= a.ts, f"{b} before {a}"


ScriptedCamera = Any
StepClock = Any


@pytest.fixture(autouse=True)
def _camera_class(make_camera: Any) -> None:
    global _CAMERA
    _CAMERA = make_camera


_CAMERA: Any = None


def make_agent(
    config: Config, clock: StepClock, footage: GroundTruth, hooks: dict | None = None, **kw: Any
) -> Agent:
    return Agent(
        config,
        clock=clock,
        source_factory=lambda c, k, w: _CAMERA(footage.path, clock, hooks),
        inspector=kw.pop("inspector", NoInspection()),
        **kw,
    )


def parts(events: list[Event]) -> list[PartEvent]:
    return [e for e in events if isinstance(e, PartEvent)]


def states(events: list[Event]) -> list[str]:
    return [e.state for e in events if isinstance(e, StateEvent)]


def test_a_run_counts_the_footage_and_closes_its_interval(
    footage: GroundTruth, line_config, clock: StepClock, run
) -> None:
    config = line_config()
    agent = make_agent(config, clock, footage)
    run(agent)
    events = stored(config)
    assert_monotone(events)
    # exactly what the vision pipeline counts in the recording on its own (replay)
    direct = ListSink()
    pipeline = LinePipeline(config, NoInspection(), direct)
    with VideoFileSource(footage.path, datetime(2026, 1, 1, tzinfo=UTC)) as video:
        with contextlib.suppress(EndOfStream):
            while True:
                pipeline.process(video.read())
    pipeline.close()
    expected = [round(e.mono or 0.0, 6) for e in parts(direct.events)]
    assert [round((e.mono or 0.0) - 1000.0, 6) for e in parts(events)] == expected
    assert len(expected) >= len(footage.counted)
    assert states(events) == ["running", "stopped", "running", "no_data"]
    # closed at the last frame of the footage
    duration = (events[-1].ts - events[0].ts).total_seconds()
    assert duration == pytest.approx((footage.frames - 1) / footage.fps, abs=0.05)
    assert agent.last_stats is not None and agent.last_stats["frames"] > 0


def test_the_camera_converts_only_the_frames_the_pipeline_analyses(
    footage: GroundTruth, line_config, run, baseline
) -> None:
    """The real path: the footage played as a camera in real time through OpenCV."""
    from agent.capture.sources import open_source
    from agent.clock import SystemClock

    config = line_config()
    opened: list[Any] = []

    def camera(c: Config, clock: Any, wanted: Any) -> Any:
        opened.append(open_source(c.camera, clock, base_dir=c.base_dir, wanted=wanted))
        return opened[-1]

    agent = Agent(config, clock=SystemClock(), source_factory=camera, inspector=NoInspection())
    run(agent)
    events = stored(config)
    stats = opened[0].stats()
    # 30 fps in, 15 analysed: about half grabbed only
    assert stats["frames_in"] >= footage.frames - 2
    assert 0.35 * stats["frames_in"] <= stats["frames_not_converted"] <= 0.65 * stats["frames_in"]
    assert abs(len(parts(events)) - len(parts(baseline))) <= 1
    assert states(events) == states(baseline)


@pytest.mark.parametrize("step_s", [3600.0, -3600.0], ids=["forward", "back"])
def test_a_wall_clock_step_mid_shift_counts_no_time_twice(
    footage: GroundTruth, line_config, clock: StepClock, run, baseline, step_s: float
) -> None:
    def step(camera: ScriptedCamera) -> None:
        camera.clock.offset += step_s

    config = line_config()
    agent = make_agent(config, clock, footage, hooks={60: step})  # 2 s in, while running
    run(agent)
    events = stored(config)
    assert_monotone(events)
    assert abs(len(parts(events)) - len(parts(baseline))) <= 1  # a part in view may be lost
    seconds = (footage.frames - 1) / footage.fps
    total = compute_oee(events, config).total
    assert total.tally.planned_s == pytest.approx(seconds, abs=0.2)
    assert total.tally.run_s <= total.tally.planned_s + 1e-6  # small stops are inside run_s
    for value in (total.tally.run_s, total.tally.no_data_s, total.tally.small_stop_s):
        assert value >= 0
    assert len(agent.labels.steps) == 1
    if step_s > 0:
        # the hour that never passed here is no_data, the labels follow the new clock
        assert total.tally.no_data_s == pytest.approx(step_s, abs=0.2)
        assert states(events) == ["running", "no_data", "running", "stopped", "running", "no_data"]
        assert abs((events[-1].ts - clock.wall()).total_seconds()) < 0.1
    else:
        # the time line is kept: the labels run an hour ahead of the stepped clock
        assert total.tally.no_data_s == 0
        assert states(events) == states(baseline)
        assert agent.labels.ahead_s == pytest.approx(-step_s, abs=0.1)
    with open_readonly(config.store_path) as store:
        assert store.meta_get("clock_steps")[0]["offset_s"] == pytest.approx(step_s, abs=0.1)
    assert agent.last_stats is not None
    assert any(a.startswith("clock: stepped by") for a in agent.last_stats["alarms"])


def test_a_restart_closes_what_a_crash_left_open(
    footage: GroundTruth, line_config, clock: StepClock, run
) -> None:
    config = line_config()
    crashed_at = clock.wall() - timedelta(minutes=2)
    with Store.open(config.store_path) as store:
        store.append(StateEvent(crashed_at - timedelta(seconds=30), "running", None, "r1"))
        store.append(PartEvent(crashed_at, True, id="p1"))
    run(make_agent(config, clock, footage))
    events = stored(config)
    assert_monotone(events)
    # the crash's gap is no_data from its last event, then the new run
    assert [e.id for e in events[:2]] == ["r1", "p1"]
    assert isinstance(events[2], StateEvent) and events[2].state == "no_data"
    assert events[2].ts == crashed_at
    assert states(events)[2] == "running"


def test_a_clock_behind_the_store_keeps_events_after_it(
    footage: GroundTruth, line_config, clock: StepClock, run
) -> None:
    """A board without RTC boots with a clock from before its last stored events."""
    config = line_config()
    ahead = clock.wall() + timedelta(hours=3)
    with Store.open(config.store_path) as store:
        store.append(StateEvent(ahead, "running", None, "r1"))
    agent = make_agent(config, clock, footage)
    run(agent)
    events = stored(config)
    assert_monotone(events)
    assert events[1].ts == ahead and states(events)[1] == "no_data"
    assert events[2].ts > ahead
    assert agent.labels.ahead_s == pytest.approx(3 * 3600, abs=1)


def test_a_camera_outage_is_no_data_then_counting_again(
    footage: GroundTruth, line_config, clock: StepClock, run
) -> None:
    config = line_config()
    hooks = {285: lambda camera: camera.vanish(45)}  # 1.5 s gone, in the last phase
    agent = make_agent(config, clock, footage, hooks=hooks)
    run(agent)
    events = stored(config)
    assert_monotone(events)
    assert states(events) == ["running", "stopped", "running", "no_data", "running", "no_data"]
    gap = [e for e in events if isinstance(e, StateEvent)][3:5]
    assert (gap[1].ts - gap[0].ts).total_seconds() == pytest.approx(1.5, abs=0.1)
    assert any(p.ts > gap[1].ts for p in parts(events))
    total = compute_oee(events, config).total
    assert total.tally.no_data_s == pytest.approx(1.5, abs=0.1)
    assert agent.health.camera_outages == 1


class FailingOnce:
    """An inspector that raises on its first part, then works."""

    enabled = True
    patterned_belt = False

    def __init__(self) -> None:
        self.calls = 0

    def inspect(self, views: Any) -> Verdict:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("inference blew up")
        return Verdict(good=True, score=0.1)


def test_a_model_that_raises_costs_one_uninspected_part_not_a_restart(
    footage: GroundTruth, line_config, clock: StepClock, run, baseline
) -> None:
    config = line_config()
    agent = make_agent(config, clock, footage, inspector=FailingOnce(), stats_interval_s=0.5)
    run(agent)
    events = stored(config)
    assert_monotone(events)
    counted = parts(events)
    assert [p.inspected for p in counted] == [False] + [True] * (len(counted) - 1)
    assert counted[0].good and counted[0].score is None
    assert len(counted) == len(parts(baseline))
    assert "no_data" not in states(events)[:-1]  # the pipeline went on: no restart gap
    assert agent.health.faults == 0
    with open_readonly(config.store_path) as store:
        assert store.latest_stats()["parts_not_inspected"] == 1


def test_a_stage_that_raises_is_restarted_and_the_fault_reported(
    footage: GroundTruth,
    line_config,
    clock: StepClock,
    run,
    baseline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agent.counting.counter import PartCounter

    process = PartCounter.process
    calls = []

    def once_broken(self: PartCounter, *args: Any) -> Any:
        calls.append(1)
        if len(calls) == 30:
            raise RuntimeError("counter blew up")
        return process(self, *args)

    monkeypatch.setattr(PartCounter, "process", once_broken)
    config = line_config()
    agent = make_agent(config, clock, footage, stats_interval_s=0.5)
    run(agent)
    events = stored(config)
    assert_monotone(events)
    assert agent.health.faults == 1
    assert "counter blew up" in (agent.health.last_fault or "")
    assert len(parts(events)) >= len(parts(baseline)) - 2
    assert "no_data" in states(events)[:-1]  # the restart's gap
    with open_readonly(config.store_path) as store:
        assert store.latest_stats()["faults"] == 1


class Hanging:
    """An inspector that hangs on its third part, as a wedged accelerator would."""

    enabled = True
    patterned_belt = False

    def __init__(self) -> None:
        self.calls = 0
        self.hung_at: float | None = None
        self.release = threading.Event()

    def inspect(self, views: Any) -> Verdict:
        self.calls += 1
        if self.calls == 3:
            self.hung_at = time.monotonic()
            self.release.wait(30)
        return Verdict(good=True)


def test_the_watchdog_is_pinged_only_while_the_pipeline_makes_progress(
    footage: GroundTruth, line_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_clock
) -> None:
    address = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(address)
    server.settimeout(0.2)
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")  # ping every 0.5 s
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))

    class RealClock:
        def monotonic(self) -> float:
            return time.monotonic()

        def wall(self) -> datetime:
            return datetime.now(UTC)

    hanging = Hanging()
    agent = Agent(
        line_config(),
        clock=RealClock(),
        source_factory=lambda c, k, w: _CAMERA(
            footage.path, make_clock(datetime.now(UTC)), {}, 0.02
        ),
        inspector=hanging,
        notifier=Notifier(address),
        stall_s=1.5,
    )
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(stop,))
    thread.start()
    got: list[tuple[float, str]] = []
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if hanging.hung_at is not None and time.monotonic() - hanging.hung_at > 5:
                break
            try:
                got.append((time.monotonic(), server.recv(256).decode()))
            except TimeoutError:
                continue
    finally:
        hanging.release.set()
        stop.set()
        thread.join(15)
        server.close()
    assert got and got[0][1].startswith("READY=1")
    assert hanging.hung_at is not None, "the footage never reached a third part"
    pings = [t for t, m in got if m == "WATCHDOG=1"]
    before = [t for t in pings if t < hanging.hung_at]
    after = [t for t in pings if t > hanging.hung_at + 1.5 + 0.5 + 0.5]
    assert len(before) >= 2, got
    assert after == [], "pinged while inspection was hung"


def test_a_shift_that_ended_while_the_agent_was_down_is_closed_at_start(
    footage: GroundTruth, line_config, clock: StepClock, run
) -> None:
    config = line_config()
    yesterday = clock.wall() - timedelta(days=1)
    with Store.open(config.store_path) as store:
        store.append(StateEvent(yesterday, "running", None, "r1"))
        store.append(PartEvent(yesterday + timedelta(seconds=1), True, id="p1"))
        store.append(PartEvent(yesterday + timedelta(seconds=2), False, "scratch", id="p2"))
    run(make_agent(config, clock, footage))
    with open_readonly(config.store_path) as store:
        results = store.shift_results()
        shift_topics = [r.topic for r in store.outbox.peek(10_000) if r.topic.endswith("/shift")]
    old = [r for r in results if r["date"] == yesterday.date().isoformat()]
    assert len(old) == 1
    assert old[0]["total"] == 2 and old[0]["good"] == 1
    assert old[0]["run_s"] == pytest.approx(2.0)  # the crash's gap after p2 is no_data
    assert shift_topics == [f"oee/site/area/{config.line.id}/shift"]


def test_an_roi_outside_the_frame_stops_the_daemon_with_one_sentence(
    footage: GroundTruth, line_config, clock: StepClock
) -> None:
    config = line_config(vision={"roi": [5000, 0, 100, 100]})
    agent = make_agent(config, clock, footage)
    with pytest.raises(UserError, match="vision.roi"):
        agent.run(threading.Event())
    assert agent.health.faults == 0  # not retried: no backoff loop on a bad configuration
    assert agent.store is None  # stopped in order


def test_a_looped_recording_plays_on_without_a_gap(line_config, tmp_path: Path) -> None:
    from agent.sim.line import Phase, Scenario, render_line

    short = render_line(
        Scenario(phases=(Phase(2.0),), width=320, height=240, size_px=(32.0, 38.0), seed=4),
        tmp_path / "short.mp4",
    )
    config = line_config(camera={"source": str(short.path), "loop": True})
    agent = Agent(config, inspector=NoInspection())
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(stop,))
    thread.start()
    wait_until(lambda: agent.health.frames >= 2.5 * short.frames, 30)
    stop.set()
    thread.join(20)
    assert agent.health.frames >= 2.5 * short.frames, "the recording did not loop"
    assert agent.health.camera_outages == 0
    assert states(stored(config)) == ["running", "no_data"]  # one run, closed at stop


def test_loop_is_only_for_video_files(line_config) -> None:
    config = line_config(camera={"source": "rtsp://127.0.0.1:9/stream", "loop": True})
    with pytest.raises(UserError, match=r"camera\.loop"):
        Agent(config, inspector=NoInspection()).run(threading.Event())


def test_stopping_without_a_broker_is_bounded_and_keeps_the_outbox(
    footage: GroundTruth, line_config, clock: StepClock
) -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = line_config(mqtt={"enabled": True, "host": "127.0.0.1", "port": port})
    agent = make_agent(config, clock, footage)
    began = time.monotonic()
    agent.run(threading.Event())  # the footage ends, then the agent stops
    assert time.monotonic() - began < 30
    with open_readonly(config.store_path) as store:
        events = store.event_count()
        depth = store.outbox.depth()
    # nothing acknowledged, nothing lost: every message waits on disk for the broker
    assert events > 0 and depth >= events


def test_the_daemon_notes_until_when_it_observed_the_line(
    footage: GroundTruth, line_config, clock: StepClock, run
) -> None:
    """`report --db` on a daemon's store ends at its last observed frame, not its last event.

    Mid-run (as a crash would leave the store), the stored end of observation follows
    the frames within a health sample; after the stop it is the footage's last frame.
    """
    from agent.store.cli import build_report

    config = line_config()
    seen: list[tuple[datetime, datetime | None, dict]] = []

    def look(camera: ScriptedCamera) -> None:  # as `report --db` would, in the last phase
        with open_readonly(config.store_path) as store:
            report = build_report(store, config, None, None)["total"]
            seen.append((camera.clock.wall(), store.observed_until(), report))

    hooks = {n: look for n in (200, 300, 350)}
    agent = Agent(
        config,
        clock=clock,
        source_factory=lambda c, k, w: _CAMERA(footage.path, clock, hooks, pace_s=0.01),
        inspector=NoInspection(),
        stats_interval_s=0.5,
    )
    run(agent)
    assert len(seen) == 3
    noted = [observed for _, observed, _ in seen]
    assert all(n is not None for n in noted) and noted == sorted(noted)  # type: ignore[type-var]
    for wall, observed, report in seen:
        assert observed is not None and wall - timedelta(seconds=3) < observed <= wall
        assert datetime.fromisoformat(report["measured_to"]) == observed
    events = stored(config)
    with open_readonly(config.store_path) as store:
        assert store.observed_until() == events[-1].ts  # the last frame, where no_data begins


def test_a_store_over_its_bound_alarms_on_stats_before_anything_is_lost(
    footage: GroundTruth, line_config, clock: StepClock, run
) -> None:
    config = line_config(store={"max_mb": 16})
    with Store.open(config.store_path) as store:  # a store grown past its bound
        store.db.execute("CREATE TABLE ballast (b BLOB)")
        store.db.execute("INSERT INTO ballast VALUES (zeroblob(17 * 1048576))")
        store.db.conn.commit()
    agent = make_agent(config, clock, footage)
    run(agent)
    assert agent.last_stats is not None and agent.last_stats["store_mb"] > 16
    alarms = [a for a in agent.last_stats["alarms"] if a.startswith("storage:")]
    assert alarms and "over its 16 MB bound" in alarms[0]
    with open_readonly(config.store_path) as store:  # where the TUI reads it
        latest = store.latest_stats()
        assert latest is not None and alarms[0] in latest["alarms"]
        assert parts(store.events())  # nothing was lost meanwhile
