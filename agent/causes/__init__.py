"""Stop causes: what the ROI shows when the line stops, and what the supervisors said.

Stage interface (pure cores first, the pipeline's hook last):

- `scene.describe(mask, moving, usual, view)` -> `SceneDescription`: belt empty or
  loaded, how the parts lie (spaced as usual, queued edge to edge, piled), where they
  gather along the flow, whether the belt moves, whether the view looks as usual;
- `rules.builtin_cause(scene)` -> `Cause`: `starved`, `blocked`, `jam`, `machine`,
  `camera` or `unknown`, with a confidence;
- `learn.suggest(scene, embedding, examples, builtin)` -> `Cause`: the line's own
  `[[reason]]` code from the nearest examples (stops a supervisor gave a reason), never
  a code nobody assigned, else the built-in cause;
- `watch.StopWatcher`: fed by `LinePipeline` every analysed frame (what is usual on
  this line), it describes the scene when a stop starts and keeps a picture of the ROI.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The built-in causes, in the order the docs list them.
BUILTIN_CAUSES: tuple[str, ...] = ("starved", "blocked", "jam", "machine", "camera", "unknown")


@dataclass(frozen=True, slots=True)
class Cause:
    """A suggested reason for a stop: a built-in cause or a line's `[[reason]]` code."""

    code: str
    confidence: float
    #: "builtin" (from the scene's rules) or "learned" (from the supervisors' examples).
    source: str = "builtin"
