"""Built-in causes from a scene description: a few readable rules, in order.

1. The view is not as usual (dark, blurred, something else in the ROI): `camera`.
2. Nothing on the belt: `starved` (surest while the belt still runs empty).
3. Parts piled or spread across the belt at one point: `jam`.
4. Parts queued edge to edge up to the outfeed: `blocked` (a queue that does not reach
   the outfeed is more likely a jam at its head).
5. The belt halted with parts spaced as usual: `machine`.
6. Anything else: `unknown`.

Confidences grow with how clearly the scene passes the rule's bounds; they are
comparable between stops, not calibrated probabilities.
"""

from __future__ import annotations

from agent.causes import Cause
from agent.causes.scene import PILE_DENSITY, PILE_SPREAD, QUEUE_LENGTHS, SceneDescription


def _clip(value: float, low: float = 0.0, high: float = 1.0) -> float:
    return max(low, min(high, value))


def builtin_cause(scene: SceneDescription) -> Cause:
    """The built-in cause the scene shows, with a confidence (0..1)."""
    if not scene.view.normal:
        return Cause("camera", round(0.6 + 0.35 * scene.view.severity, 2))
    if scene.layout == "empty":
        return Cause("starved", 0.9 if scene.moving else 0.6)
    if scene.layout == "piled":
        margin = max(scene.density / PILE_DENSITY, scene.spread / PILE_SPREAD) - 1.0
        return Cause("jam", round(0.65 + _clip(margin, 0, 0.3), 2))
    if scene.layout == "queued":
        margin = _clip((scene.longest_run - QUEUE_LENGTHS) / QUEUE_LENGTHS, 0, 0.25)
        if scene.at_outfeed:
            return Cause("blocked", round(0.7 + margin, 2))
        return Cause("jam", round(0.45 + margin, 2))
    if not scene.moving:
        usual = scene.gap_ratio is None or 0.4 <= scene.gap_ratio <= 2.5
        return Cause("machine", 0.8 if usual else 0.6)
    return Cause("unknown", 0.3)
