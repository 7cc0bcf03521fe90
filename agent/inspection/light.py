"""Before comparing: a registered view brought to the taught light, the part alone in it.

Pure numpy/OpenCV. Lighting that drifts or flickers changes brightness, not hue, so
every correction is one gain for all channels (a part of the wrong colour still
differs). Whatever is not the part (belt, dirt, a neighbour) is painted over with the
taught belt colour, so only the part is compared.
"""

from __future__ import annotations

import cv2
import numpy as np

#: How far a view's brightness is corrected towards the taught level (lighting drift).
GAIN_LIMITS = (0.75, 1.33)
#: The lighting gain read off the belt is believed within these limits (a lamp failing,
#: a door opened); beyond them the view is corrected by the part's own brightness.
LIGHT_LIMITS = (0.4, 2.5)


def brightness_of(image: np.ndarray, body: np.ndarray) -> float:
    """Median grey level of the part's body (pixels every good part covers)."""
    grey = _grey(image)
    inside = grey[body] if body.any() else grey.ravel()
    return float(np.median(inside))


def _grey(image: np.ndarray) -> np.ndarray:
    """The mean of the channels per pixel, summed as numpy's mean over them sums.

    (numpy's reduction over a short last axis cost ten times this.)
    """
    if image.dtype != np.float32:
        image = image.astype(np.float64)
    return np.asarray((image[..., 0] + image[..., 1] + image[..., 2]) / 3)


def belt_gain(image: np.ndarray, mask: np.ndarray, background: np.ndarray) -> float | None:
    """How much brighter the taught belt is than the belt around this part: the light.

    The belt, not the part, says how the light changed, so a part that is itself too
    dark or of the wrong colour is not corrected into a good one. The median of the
    belt pixels a few pixels away from the part shrugs off dirt and a neighbour's edge.
    None when too little belt shows, or the gain is beyond `LIGHT_LIMITS`.
    """
    near = cv2.dilate((mask > 0.1).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    belt = _grey(image)[~near]
    if belt.size < 50:
        return None
    here = float(np.median(belt))
    gain = float(background.mean()) / max(here, 1.0)
    return gain if LIGHT_LIMITS[0] <= gain <= LIGHT_LIMITS[1] else None


def light_gain(taught: float, seen: float | None) -> float | None:
    """How much to brighten a view seen under `seen` light to the `taught` light.

    Both are `PartCrop.light` levels. None when either is unknown or the change is
    beyond `LIGHT_LIMITS`.
    """
    if not taught or not seen:
        return None
    gain = taught / seen
    return gain if LIGHT_LIMITS[0] <= gain <= LIGHT_LIMITS[1] else None


def normalise(image: np.ndarray, body: np.ndarray, brightness: float) -> np.ndarray:
    """The view with its body's brightness brought to the taught level, within GAIN_LIMITS."""
    if brightness <= 0:
        return image
    gain = brightness / max(brightness_of(image, body), 1.0)
    return np.asarray(image * float(np.clip(gain, *GAIN_LIMITS)), np.float32)


def isolate(image: np.ndarray, mask: np.ndarray, background: np.ndarray) -> np.ndarray:
    """`image` with every pixel farther than one pixel from the part painted `background`.

    Only the part itself is compared: dirt on the belt, a neighbour part or the belt's
    own pattern beside the part cannot raise a score. A chipped edge or a missing piece
    still shows: where the part should be, the background colour differs from it.
    """
    keep = cv2.dilate((mask > 0.1).astype(np.uint8), np.ones((3, 3), np.uint8))
    # the colour's planes merged (numpy's fill of every pixel with it cost four times this)
    plane = image.shape[:2]
    out = cv2.merge([np.full(plane, value, np.float32) for value in background.tolist()])
    cv2.copyTo(image.astype(np.float32, copy=False), keep, out)
    return out


def background_of(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """The belt's colour around taught parts: median over pixels no part comes near."""
    far = masks.max(axis=0) < 0.02
    if not far.any():
        far = masks.mean(axis=0) < 0.5
    return np.median(images[:, far].reshape(-1, 3), axis=0).astype(np.float32)
