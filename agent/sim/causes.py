"""Shifts with every stop cause, several times over, for tests and the benchmark.

`cause_scenario` strings running stretches and stops together in a seeded order:
`machine` (a halt with parts as they lay), `starved` (the belt runs on, unfed),
`blocked`, `jam` and `camera` (covered or bumped, alternately); `GroundTruth.causes`
gives each stop's span and cause.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from agent.sim.line import CAUSES, Phase, Scenario

#: Seconds of normal running before each stop (parts flow as usual again).
RUN_S = 5.0
#: Seconds a stop lasts (a starved one: once the belt has run empty).
STOP_S = 4.0
#: Seconds the last parts take to leave a view 640 px long at the default speed.
CLEAR_S = 4.0


def cause_phases(cause: str, index: int) -> list[Phase]:
    """The phases of one stop with `cause` (the `index`-th camera stop alternates views)."""
    if cause == "starved":  # the belt empties, stays empty, then parts come again
        return [Phase(CLEAR_S + STOP_S, feeding=False, cause="starved"), Phase(3.0)]
    if cause == "camera":
        view = "covered" if index % 2 == 0 else "bumped"
        return [Phase(STOP_S, moving=view == "bumped", cause="camera", view=view)]
    return [Phase(STOP_S, moving=False, cause=cause)]


def cause_scenario(seed: int, repeats: int = 3, **look: Any) -> Scenario:
    """A shift with every cause `repeats` times in a seeded order, at 15 fps.

    `look` overrides any `Scenario` field (designs, colours, direction, belt...).
    """
    rng = np.random.default_rng((seed, 17))
    order = [c for c in CAUSES for _ in range(repeats)]
    rng.shuffle(order)
    phases: list[Phase] = []
    seen: dict[str, int] = {}
    for cause in order:
        phases.append(Phase(RUN_S))
        phases += cause_phases(cause, seen.get(cause, 0))
        seen[cause] = seen.get(cause, 0) + 1
    phases.append(Phase(RUN_S))
    return replace(Scenario(tuple(phases), seed=seed, fps=15.0), **look)
