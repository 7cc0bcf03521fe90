"""A camera that moved, rendered: shift, rotate, blur or darken rendered frames.

`disturb(image, kind, amount)` applies one change of the view to a frame of
`agent.sim.line`'s footage, as a bumped mount (`shift`: pixels right and down,
`rotate`: degrees), lost focus or a smeared lens (`blur`: Gaussian sigma in pixels) or
the lights going off (`darken`: the fraction of light left) would.
"""

from __future__ import annotations

import cv2
import numpy as np

from agent.sim.line import Scenario, render_frames

KINDS = ("shift", "rotate", "blur", "darken")


def disturb(image: np.ndarray, kind: str, amount: float) -> np.ndarray:
    """`image` (BGR) as the moved camera sees it.

    Raises:
        ValueError: an unknown `kind`.
    """
    height, width = image.shape[:2]
    matrix: np.ndarray
    if kind == "shift":
        matrix = np.array([[1, 0, amount], [0, 1, amount]], np.float32)
    elif kind == "rotate":
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), amount, 1.0)
    elif kind == "blur":
        return cv2.GaussianBlur(image, (0, 0), amount)
    elif kind == "darken":
        return (image.astype(np.float32) * amount).astype(np.uint8)
    else:
        raise ValueError(f"unknown view change {kind!r} (one of {', '.join(KINDS)})")
    moved = cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(moved)


def moved_frames(scenario: Scenario, kind: str, amount: float, span_s: tuple[float, float]):  # type: ignore[no-untyped-def]
    """Yield (frame BGR, moving, occupied) of `scenario`, the view changed during `span_s`.

    `span_s` is (from, to) in seconds from the first frame; `disturb(kind, amount)` applies.
    """
    for index, (image, moving, occupied) in enumerate(render_frames(scenario)):
        t = index / scenario.fps
        if span_s[0] <= t < span_s[1]:
            image = disturb(image, kind, amount)
        yield image, moving, occupied
