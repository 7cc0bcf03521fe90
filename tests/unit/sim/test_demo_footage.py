"""The demo's footage cache: renders of the same footage at once (test workers, two
`make demo`) each finish, and leave one whole video behind."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import cv2

from agent.demo_footage import ensure_footage
from agent.sim.line import Phase, Scenario

SCENARIO = Scenario(phases=(Phase(2.0),), width=160, height=120, size_px=(20.0, 24.0), codec="MJPG")


def _render(path: Path, start: multiprocessing.synchronize.Barrier) -> None:
    start.wait(10)  # both renders write at the same moment
    footage, _ = ensure_footage(SCENARIO, path, "rendering")
    assert footage.frames == 60


def test_two_renders_of_the_same_footage_at_once_both_finish(tmp_path: Path) -> None:
    path = tmp_path / "line.avi"
    context = multiprocessing.get_context("fork")
    start = context.Barrier(2)
    renders = [context.Process(target=_render, args=(path, start)) for _ in range(2)]
    for render in renders:
        render.start()
    for render in renders:
        render.join(60)
    assert [render.exitcode for render in renders] == [0, 0]
    video = cv2.VideoCapture(str(path))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 60
    video.release()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["line.avi", "line.json"]
    # and the next run reuses it
    assert ensure_footage(SCENARIO, path, "rendering")[1] is False
