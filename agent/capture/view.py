"""Has the camera moved? The fixed scene compared with a reference, cheaply.

A bumped mount, a turned zoom, lost focus, a covered lens or the lights off make every
later verdict meaningless. `compare(reference, image)` measures a frame against a
reference of the same view (taken when the line starts), on the fixed scene only (the
ROI, where parts move, is left out but for its border, where the belt's edges lie): how
bright and how sharp (mean gradient) it is, relative to the reference, and how many of
the reference's strong edges (belt edges, frame, fixtures) are still where they were,
give or take a pixel (a bumped mount, a turned camera or zoom moves them). `ViewWatch`
keeps the reference and says when the view has been wrong for `confirm` checks in a row.
It works on a grey copy 320 px wide: about 2 ms a check on a 640 x 480 frame here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from agent.files import write_atomic

logger = logging.getLogger(__name__)

#: The taught view, beside the taught model (`oee-agent teach` writes it).
REFERENCE_FILE = "view.png"

#: Width of the grey copy the checks work on.
WIDTH = 320
#: Bounds beyond which the view is no longer the taught one.
MIN_SHARPNESS = 0.75  # mean gradient over mean level, relative to the reference
#: Mean level, relative to the reference: lights off or a covered lens, not a lamp of
#: three failing or a lighting step, which counting and inspection read through (counting
#: exact down to 0.5 of the light on a dark belt, 0.6 on a light one; at 0.7 a shift of
#: the everything scenario, its light drifting and stepping to 0.64-0.67, was `no_data`
#: for a third of it and lost 32 of 116 parts).
MIN_BRIGHTNESS = 0.5
MIN_EDGES_KEPT = 0.8  # share of the reference's strong edges still in place
#: Strong edges: the strongest this share of the fixed scene's gradients.
EDGE_SHARE = 0.02


@dataclass(frozen=True, slots=True)
class ViewReference:
    """The fixed scene as taught: a small grey copy and its sharpness and brightness."""

    grey: np.ndarray
    sharpness: float
    brightness: float
    #: (x0, y0, x1, y1) in the small copy: where parts move (the ROI), left out.
    moving: tuple[int, int, int, int] | None
    edges: np.ndarray  # strong edges of the fixed scene (bool)
    edge_level: float  # gradient magnitude that made an edge strong
    size: tuple[int, int]  # (height, width) of the full frame

    @classmethod
    def of(cls, image: np.ndarray, roi: tuple[int, int, int, int] | None = None) -> ViewReference:
        """The reference for frames like `image` (BGR); `roi` (x, y, w, h): parts move there."""
        moving = None
        if roi is not None:
            k = WIDTH / image.shape[1]
            x, y, w, h = (round(v * k) for v in roi)
            inset = 2  # keep the belt's edges, which lie on the ROI's border
            moving = (x + inset, y + inset, x + w - inset, y + h - inset)
        grey = fixed_scene(small_grey(image), moving)
        magnitude = gradient(grey)
        level = max(float(np.quantile(magnitude, 1 - EDGE_SHARE)), 8.0)  # noise is no edge
        edges = magnitude >= level
        return cls(grey, sharpness(grey), float(grey.mean()), moving, edges, level, image.shape[:2])


@dataclass(frozen=True, slots=True)
class ViewCheck:
    """One frame measured against the reference; `problem` is None when the view is right."""

    sharpness: float  # relative to the reference
    brightness: float  # relative to the reference
    edges_kept: float  # share of the reference's strong edges still in place
    problem: str | None


def small_grey(image: np.ndarray) -> np.ndarray:
    """`image` as float32 grey, `WIDTH` pixels wide."""
    height, width = image.shape[:2]
    size = (WIDTH, max(8, round(height * WIDTH / width)))
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32)


def fixed_scene(grey: np.ndarray, moving: tuple[int, int, int, int] | None) -> np.ndarray:
    """`grey` with the moving area flattened to its edge colour (only fixed things left)."""
    if moving is None:
        return grey
    x0, y0, x1, y1 = moving
    out = grey.copy()
    out[max(0, y0) : y1, max(0, x0) : x1] = float(np.median(grey))
    return out


def gradient(grey: np.ndarray) -> np.ndarray:
    """Gradient magnitude (Sobel) of a grey copy."""
    dx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    dy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return np.asarray(cv2.magnitude(dx, dy))


def edges_kept(reference: ViewReference, grey: np.ndarray, light: float = 1.0) -> float:
    """Share of the reference's strong edges that `grey` has within a pixel (1.0: none).

    `light`: the view's brightness relative to the reference's. Gradients scale with
    it, so an edge is sought at half its taught strength times that (up to 1): a view
    dimmed to half its light is no moved one.
    """
    total = int(reference.edges.sum())
    if total == 0:
        return 1.0  # a featureless scene: nothing to tell a move by
    bar = 0.5 * reference.edge_level * min(light, 1.0)
    present = (gradient(grey) >= bar).astype(np.uint8)
    near = cv2.dilate(present, np.ones((3, 3), np.uint8)).astype(bool)
    return float((near & reference.edges).sum()) / total


def sharpness(grey: np.ndarray) -> float:
    """Mean absolute gradient at half size: falls when focus is lost or the lens is smeared.

    Half size, so that the sensor's pixel noise, which any resampling smooths, weighs
    little against the scene's detail.
    """
    grey = cv2.resize(grey, (grey.shape[1] // 2, grey.shape[0] // 2), interpolation=cv2.INTER_AREA)
    dx = np.abs(np.diff(grey, axis=1)).mean()
    dy = np.abs(np.diff(grey, axis=0)).mean()
    return float(dx + dy)


def compare(reference: ViewReference, image: np.ndarray) -> ViewCheck:
    """How `image` (BGR, the reference's size) differs from the reference view."""
    grey = fixed_scene(small_grey(image), reference.moving)
    brightness = _ratio(float(grey.mean()), reference.brightness)
    # gradients scale with the light: a dimmer view is no blurred one
    sharp = _ratio(sharpness(grey), reference.sharpness) / max(brightness, 1e-6)
    kept = edges_kept(reference, grey, brightness)
    problem = None
    if brightness < MIN_BRIGHTNESS:
        problem = f"view dark ({brightness:.0%} of the taught brightness)"
    elif sharp < MIN_SHARPNESS:
        problem = f"view blurred ({sharp:.0%} of the taught sharpness)"
    elif kept < MIN_EDGES_KEPT:
        problem = f"view moved ({kept:.0%} of the taught edges in place: bumped, turned or zoomed)"
    return ViewCheck(sharp, brightness, kept, problem)


def save_reference(model_dir: Path, image: np.ndarray) -> Path:
    """Write `image` (BGR) as the taught view into `model_dir` (atomically); its path."""
    ok, png = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("the taught view cannot be encoded as PNG")
    return write_atomic(Path(model_dir) / REFERENCE_FILE, png.tobytes())


def load_reference(model_dir: Path) -> np.ndarray | None:
    """The taught view in `model_dir`, or None when there is none (or it is unreadable)."""
    path = Path(model_dir) / REFERENCE_FILE
    if not path.is_file():
        return None
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        logger.warning(
            "cannot read the taught view %s; the first frame will be the reference", path
        )
    return image


def _ratio(value: float, reference: float) -> float:
    return value / reference if reference > 1e-6 else 1.0


class ViewWatch:
    """Checks frames against a reference now and then; says when the view is wrong.

    The first frame it sees becomes the reference unless `teach` gave one.

    Args:
        roi: (x, y, w, h) in frame pixels where parts move (left out of the fixed scene).
        every_s: seconds between checks.
        confirm: consecutive wrong checks before the view is declared wrong (one
            passing truck or a hand in front of the lens is not a moved camera),
            and right checks before it is declared right again.
    """

    def __init__(
        self,
        roi: tuple[int, int, int, int] | None = None,
        every_s: float = 0.25,
        confirm: int = 3,
    ) -> None:
        self.roi = roi
        self.every_s = every_s
        self.confirm = confirm
        self.reference: ViewReference | None = None
        self.problem: str | None = None  # the view is wrong: why
        self.since: float | None = None  # mono of the first check that saw the change
        self.last: ViewCheck | None = None
        self.checks = 0
        self._next = float("-inf")
        self._streak = 0  # checks in a row that disagree with the current state

    def teach(self, image: np.ndarray) -> None:
        """Take `image` (BGR) as the reference view; the view is right from now on."""
        self.reference = ViewReference.of(image, self.roi)
        self.problem = self.since = None
        self._streak = 0

    def _other_size(self, image: np.ndarray) -> bool:
        """The taught view has another frame size: it cannot be compared (said once)."""
        assert self.reference is not None
        if image.shape[:2] == self.reference.size:
            return False
        logger.warning(
            "the taught view is %s but the camera gives %s: the first frame is the reference",
            self.reference.size[::-1],
            image.shape[1::-1],
        )
        return True

    def update(self, mono: float, image: np.ndarray) -> bool:
        """Check `image` if a check is due; True when the verdict (`problem`) changed."""
        if self.reference is None or self._other_size(image):
            self.teach(image)
            return False
        if mono < self._next:
            return False
        self._next = mono + self.every_s
        check = compare(self.reference, image)
        self.last, self.checks = check, self.checks + 1
        if (check.problem is None) == (self.problem is None):
            self._streak = 0
            if check.problem is not None:
                self.problem = check.problem  # the latest words for the same fault
            return False
        self._streak += 1
        if self._streak == 1:
            self.since = mono
        if self._streak < self.confirm:
            return False
        self._streak = 0
        self.problem = check.problem
        return True
