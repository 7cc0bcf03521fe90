"""Every cause the simulator renders, through the real decoder and pipeline.

Seed 11 (not the seed the rules were looked at on): one stop of each cause, and the
camera once covered, once bumped.
"""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.capture import EndOfStream
from agent.capture.file import VideoFileSource
from agent.causes.watch import StopScene
from agent.config import Config
from agent.events import StateEvent
from agent.pipeline import LinePipeline, ListSink
from agent.sim.causes import cause_phases, cause_scenario
from agent.sim.line import CAUSES, Phase, Scenario, render_line


def _run(scenario: Scenario, path: Path) -> list[tuple[str, StopScene | None]]:
    """(true cause, scene of the detected stop overlapping it most) per cause phase."""
    truth = render_line(scenario, path)
    sink = ListSink()
    pipeline = LinePipeline(Config.model_validate(truth.config()), sink=sink)
    with VideoFileSource(path, datetime(2026, 3, 2, tzinfo=UTC), 15.0) as source:
        while True:
            try:
                pipeline.process(source.read_if(pipeline.due))
            except EndOfStream:
                break
    states = [e for e in sink.events if isinstance(e, StateEvent)]
    origin = states[0].mono or 0.0
    spans = [
        ((e.mono or 0.0) - origin, (after.mono or 0.0) - origin, sink.scenes.get(e.id or ""))
        for e, after in zip(states, states[1:], strict=False)
        if e.state == "stopped"
    ]
    out = []
    for stop in truth.causes():
        overlap = [(min(stop.end, b) - max(stop.start, a), s) for a, b, s in spans]
        best = max(overlap, key=lambda o: o[0], default=(0.0, None))
        out.append((str(stop.reason), best[1] if best[0] > 0 else None))
    return out


@pytest.fixture(scope="module")
def stops(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, StopScene | None]]:
    phases = [Phase(7.0)]
    for cause in (*CAUSES, "camera"):
        phases += cause_phases(cause, sum(p.cause == cause for p in phases)) + [Phase(7.0)]
    scenario = Scenario(tuple(phases), seed=11, fps=15.0, designs=("hex",), colours=("brass",))
    return _run(scenario, tmp_path_factory.mktemp("causes") / "shift.mp4")


def _scene(stops, cause: str, nth: int = 0) -> StopScene:
    scene = [s for c, s in stops if c == cause][nth]
    assert scene is not None, f"no stop detected for {cause}"
    return scene


def test_starvation_is_an_empty_belt_that_moves(stops) -> None:
    seen = _scene(stops, "starved")
    assert seen.scene.layout == "empty" and seen.scene.moving
    assert seen.cause.code == "starved"


def test_a_blockage_is_a_queue_back_from_the_outfeed(stops) -> None:
    seen = _scene(stops, "blocked")
    assert seen.scene.layout == "queued" and seen.scene.at_outfeed and not seen.scene.moving
    assert seen.cause.code == "blocked"


def test_a_jam_is_a_pile_at_one_point(stops) -> None:
    seen = _scene(stops, "jam")
    assert seen.scene.layout == "piled" and not seen.scene.at_outfeed
    assert seen.cause.code == "jam"


def test_a_machine_halt_leaves_parts_spaced_as_usual(stops) -> None:
    seen = _scene(stops, "machine")
    assert seen.scene.layout == "spaced" and not seen.scene.moving
    assert seen.cause.code == "machine"


def test_a_covered_or_bumped_camera_is_the_camera(stops) -> None:
    for nth in (0, 1):
        seen = _scene(stops, "camera", nth)
        assert not seen.scene.view.normal
        assert seen.cause.code == "camera"


def test_each_stop_keeps_a_picture_of_the_roi_and_one_embedding(stops) -> None:
    for _, seen in stops:
        assert seen is not None and seen.picture is not None
        assert seen.picture.ndim == 3 and max(seen.picture.shape[:2]) <= 320
        assert seen.embedding is not None and seen.embedding.shape == (112,)


def test_the_rendered_shift_has_every_cause(stops) -> None:
    shift = cause_scenario(seed=4, repeats=2)
    causes = [p.cause for p in shift.phases if p.cause]
    assert sorted(set(causes)) == sorted(CAUSES) and len(causes) == 2 * len(CAUSES)
    assert {p.view for p in shift.phases if p.cause == "camera"} == {"covered", "bumped"}
    assert len(stops) == len(CAUSES) + 1
