"""The demo's footage: a few minutes of a simulated line, and good parts to teach on.

Rendered once into the demo's cache folder and reused while the scenario and the
simulator's code are unchanged (`fingerprint`); each video has a JSON sidecar with
what really happens in it (parts, defects, stops, crossings).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from agent.errors import UserError
from agent.progress import Progress


def scenarios(short: bool) -> tuple[Any, Any]:
    """(the line's footage, good production to teach on) as `Scenario`s."""
    from agent.sim.line import Phase, Scenario

    look: dict[str, Any] = {
        "width": 640,
        "height": 480,
        "fps": 30.0,
        "designs": ("bracket",),
        "colours": ("steel",),
        "size_px": (64.0, 72.0),
        "speed_px_s": 160.0,
        "pitch_s": (0.8, 1.1),
        "noise_sigma": 2.0,
        "flicker": 0.01,
    }
    starved = partial(Phase, moving=True, feeding=False)
    halted = partial(Phase, moving=False)
    phases: tuple[Phase, ...]
    good: tuple[Phase, ...]
    if short:
        # 20 s: parts, one 4 s stop, parts; an empty belt at both ends joins the loop.
        phases = (starved(1.0), Phase(7.0), halted(4.0), Phase(6.0), starved(2.0))
        good = (Phase(30.0),)
    else:
        # ~4 minutes with a shift's kinds of events; the belt is empty at both ends so
        # the loop joins without a part cut in half.
        phases = (
            starved(1.0),
            Phase(45.0),
            halted(6.0),  # small stop
            Phase(35.0),
            starved(12.0),  # starvation: the belt runs with no parts
            Phase(40.0),
            halted(40.0),  # a stop longer than micro_stop_max_s: downtime
            Phase(35.0),
            halted(3.0),  # small stop
            Phase(30.0),
            starved(8.0),
        )
        good = (Phase(60.0),)
    line = Scenario(phases=phases, seed=2026, defect_rate=0.06, **look)
    teach = Scenario(phases=good, seed=7, defect_rate=0.0, **{**look, "pitch_s": (0.6, 0.8)})
    return line, teach


def fingerprint(scenario: Any) -> str:
    """What decides a rendering's pixels: the scenario and the simulator's code."""
    from agent.sim import line, parts

    digest = hashlib.sha256(repr(scenario).encode())
    for module in (line, parts):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Footage:
    """A rendered video and what really happens in it."""

    path: Path
    fingerprint: str
    frames: int
    parts: int
    defective: int
    stops: list[tuple[float, float, str | None]]
    crossings: list[tuple[float, str | None]]


def ensure_footage(scenario: Any, path: Path, label: str) -> tuple[Footage, bool]:
    """The footage of `scenario` at `path`, rendered unless an identical one is there.

    Returns:
        The footage and whether it was rendered now (False: reused from the cache).
    """
    sidecar = path.with_suffix(".json")
    wanted = fingerprint(scenario)
    if path.is_file() and sidecar.is_file():
        try:
            known = json.loads(sidecar.read_text(encoding="utf-8"))
            if known.get("fingerprint") == wanted and "crossings" in known:
                return _footage_from(path, known), False
        except (OSError, ValueError):
            pass  # a damaged sidecar: render again
    info = _render(scenario, path, label)
    info["fingerprint"] = wanted
    partial_sidecar = sidecar.with_name(f"{sidecar.stem}.partial-{os.getpid()}.json")
    partial_sidecar.write_text(json.dumps(info, indent=1), encoding="utf-8")
    os.replace(partial_sidecar, sidecar)  # a reader sees the old sidecar or the whole new one
    return _footage_from(path, info), True


def _footage_from(path: Path, info: dict[str, Any]) -> Footage:
    return Footage(
        path=path,
        fingerprint=str(info["fingerprint"]),
        frames=int(info["frames"]),
        parts=int(info["parts"]),
        defective=int(info["defective"]),
        stops=[(float(a), float(b), r) for a, b, r in info["stops"]],
        crossings=[(float(t), d) for t, d in info.get("crossings", [])],
    )


def _render(scenario: Any, path: Path, label: str) -> dict[str, Any]:
    """Render into a temporary name and rename: an interrupted render is never reused."""
    import cv2
    import numpy as np

    from agent.sim.line import GroundTruth, plan_parts, render_frames

    path.parent.mkdir(parents=True, exist_ok=True)
    # a name of this process: two renders of the same footage at once never share a file
    partial_path = path.with_name(f"{path.stem}.partial-{os.getpid()}{path.suffix}")
    fourcc = cv2.VideoWriter.fourcc(*scenario.codec)
    size = (scenario.width, scenario.height)
    writer = cv2.VideoWriter(str(partial_path), fourcc, scenario.fps, size)
    if not writer.isOpened():
        raise UserError(f"OpenCV cannot write {partial_path} (codec {scenario.codec})")
    moving: list[bool] = []
    occupied: list[bool] = []
    try:
        with Progress(scenario.frames, label) as bar:
            for frame, is_moving, is_occupied in render_frames(scenario):
                writer.write(frame)
                moving.append(is_moving)
                occupied.append(is_occupied)
                bar.update()
    except BaseException:
        writer.release()
        partial_path.unlink(missing_ok=True)  # interrupted (Ctrl-C): leave no stray file
        raise
    writer.release()
    os.replace(partial_path, path)
    parts, _ = plan_parts(scenario)
    truth = GroundTruth(path, scenario, parts, np.array(moving), np.array(occupied))
    return {
        "frames": truth.frames,
        "parts": len(truth.counted),
        "defective": sum(1 for p in truth.counted if p.defect),
        "stops": [[s.start, s.end, s.reason] for s in truth.stops()],
        # when each part crosses count_at (s from the first frame), and its defect
        "crossings": [[round(p.t_count or 0.0, 3), p.defect] for p in truth.counted],
    }
