"""The line's model of a good part, and how unusual a registered view is (pure numpy).

Two comparisons per position of the canonical pose, each learned from good parts:
- **pixels**: mean and spread of every pixel's colour; a view's pixel is compared with
  the best-matching position within one pixel (edges carry sub-pixel misalignment, so
  an edge pixel that matches its neighbour is not a defect). This finds thin scratches
  and cracks that pooled or coarse features average away.
- **patches** (PaDiM): a Gaussian per position on the int8 backbone's stride-8 and
  stride-16 features (a fixed random subset of channels); the Mahalanobis distance
  finds changes of texture and colour that are too gradual for the pixel check.
Each map is divided by its own scale on held-out good parts, so the two are comparable;
a view's map is their maximum, its score the map's peak inside the part's region.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import cv2
import numpy as np

logger = logging.getLogger(__name__)

#: Smallest colour spread assumed per pixel (grey levels): sensor noise floor.
PIXEL_SIGMA_FLOOR = 6.0
#: Offsets the pixel comparison tolerates (the 3 x 3 neighbourhood).
_OFFSETS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]


def _shifted(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """`a` moved by (dy, dx) with edge replication: out[y, x] = a[y - dy, x - dx]."""
    pad = np.pad(a, ((1, 1), (1, 1)) + ((0, 0),) * (a.ndim - 2), mode="edge")
    h, w = a.shape[:2]
    return pad[1 - dy : 1 - dy + h, 1 - dx : 1 - dx + w]


@dataclass
class PixelModel:
    """Per-pixel colour mean and spread over registered good views."""

    mean: np.ndarray  # side x side x 3
    sigma: np.ndarray  # side x side x 3

    @classmethod
    def fit(cls, images: np.ndarray) -> PixelModel:
        """From N x side x side x 3 float32 registered good views."""
        mean = images.mean(axis=0)
        sigma = np.sqrt(images.var(axis=0) + PIXEL_SIGMA_FLOOR**2)
        return cls(mean.astype(np.float32), sigma.astype(np.float32))

    def __post_init__(self) -> None:
        # The 3 x 3 neighbourhood's means and inverse spreads, stacked once: 9 x H x W x 3.
        shifted = [_shifted(self.mean, dy, dx) for dy, dx in _OFFSETS]
        self._means = np.stack(shifted).astype(np.float32)
        self._inv = np.stack([1.0 / _shifted(self.sigma, dy, dx) for dy, dx in _OFFSETS])
        self._inv = self._inv.astype(np.float32)

    def distance(self, image: np.ndarray) -> np.ndarray:
        """Per-pixel distance (in spreads) to the best match within one pixel."""
        z = image[None].astype(np.float32) - self._means
        z *= self._inv
        z *= z
        squared = (z[..., 0] + z[..., 1] + z[..., 2]).min(axis=0) / 3.0  # faster than sum(3)
        return np.asarray(np.sqrt(squared), np.float32)


def stack_features(stride8: np.ndarray, stride16: np.ndarray, channels: np.ndarray) -> np.ndarray:
    """Stride-16 features upsampled onto the stride-8 grid, joined, channel subset: H x W x d."""
    h, w = stride8.shape[:2]
    up = cv2.resize(stride16, (w, h), interpolation=cv2.INTER_LINEAR)
    if up.ndim == 2:
        up = up[:, :, None]
    return np.concatenate([stride8, up], axis=2)[:, :, channels]


@dataclass
class PatchModel:
    """PaDiM: a Gaussian per feature-map position (mean, inverse covariance)."""

    channels: np.ndarray  # indices into the joined stride-8 + stride-16 channels
    mean: np.ndarray  # H x W x d
    inv_cov: np.ndarray  # H x W x d x d

    @classmethod
    def fit(cls, features: np.ndarray, channels: np.ndarray, ridge: float = 0.01) -> PatchModel:
        """From N x H x W x d float32 features (already the channel subset)."""
        n, h, w, d = features.shape
        mean = features.mean(axis=0)
        centred = (features - mean).reshape(n, h * w, d).transpose(1, 0, 2)
        cov = np.matmul(centred.transpose(0, 2, 1), centred) / max(n - 1, 1)  # batched BLAS
        # Ridge in proportion to each position's variance keeps few samples invertible.
        scale = np.trace(cov, axis1=1, axis2=2)[:, None, None] / d
        cov += (ridge * scale + 1e-6) * np.eye(d, dtype=cov.dtype)[None]
        inv = np.linalg.inv(cov).reshape(h, w, d, d)
        return cls(channels, mean.astype(np.float32), inv.astype(np.float32))

    def distance(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distance per position (H x W)."""
        delta = features - self.mean
        if self.inv_cov.shape[:2] == (1, 1):
            m = np.einsum("hwd,de,hwe->hw", delta, self.inv_cov[0, 0], delta)
        else:
            projected = np.matmul(self.inv_cov, delta[..., None])[..., 0]  # batched BLAS
            m = (delta * projected).sum(axis=-1)
        return np.sqrt(np.maximum(m, 0.0))


@dataclass
class LineModel:
    """Everything a taught line needs to score a registered view."""

    side: int
    region: np.ndarray  # side x side float32 0..1: where defects count (part + margin)
    pixels: PixelModel | None
    patches: PatchModel | None
    #: Divisors that bring each map to "1 = the largest seen on held-out good parts".
    pixel_scale: float = 1.0
    patch_scale: float = 1.0
    threshold: float = 1.0
    #: Typical sqrt(hull area) of a part in crop pixels (0: unknown).
    part_scale: float = 0.0
    #: Side of the box that smooths the pixel map (3 keeps 1-2 px scratches).
    smooth_px: int = 3
    #: Pixels every good part covers, and their median grey level (0: no correction).
    body: np.ndarray | None = None
    brightness: float = 0.0
    #: Colour (BGR, taught brightness) painted over everything that is not the part
    #: (None: views are compared as they are, e.g. a fixed scene or a texture).
    background: np.ndarray | None = None

    def normalise(self, image: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """A registered view corrected to the taught brightness, the part alone in it.

        With `mask` (the view's own part mask) and a taught background, whatever is not
        the part (belt, dirt, a neighbour) is painted over with the background colour.
        """
        if mask is not None and self.background is not None:
            gain = belt_gain(image, mask, self.background)
            if gain is not None:  # the light, read off the belt around the part
                return isolate(np.asarray(image * gain, np.float32), mask, self.background)
        out = image if self.body is None else normalise(image, self.body, self.brightness)
        if mask is None or self.background is None:
            return out
        return isolate(out, mask, self.background)

    extra: dict[str, float] = field(default_factory=dict)

    def pixel_map(self, image: np.ndarray) -> np.ndarray | None:
        """Smoothed pixel distance map of a registered view, in held-out units."""
        if self.pixels is None:
            return None
        raw = self.pixels.distance(image)
        # A 3 x 3 box keeps a 1-2 px wide scratch but averages single noisy pixels away.
        smooth = cv2.blur(raw, (self.smooth_px, self.smooth_px))
        return np.asarray(smooth, np.float32) / self.pixel_scale

    def patch_map(self, features: np.ndarray) -> np.ndarray:
        """Patch distance map upsampled to the canonical side, in held-out units."""
        assert self.patches is not None
        raw = self.patches.distance(features)
        up = cv2.resize(raw, (self.side, self.side), interpolation=cv2.INTER_LINEAR)
        return np.asarray(up, np.float32) / self.patch_scale

    def combine(self, pixel_map: np.ndarray | None, patch_map: np.ndarray | None) -> np.ndarray:
        """The view's anomaly map inside the part's region."""
        maps = [m for m in (pixel_map, patch_map) if m is not None]
        if not maps:
            return np.zeros_like(self.region)
        both = maps[0] if len(maps) == 1 else np.maximum(maps[0], maps[1])
        return np.asarray(both * self.region, np.float32)


#: How far a view's brightness is corrected towards the taught level (lighting drift).
GAIN_LIMITS = (0.75, 1.33)


def brightness_of(image: np.ndarray, body: np.ndarray) -> float:
    """Median grey level of the part's body (pixels every good part covers)."""
    grey = image.mean(axis=2)
    inside = grey[body] if body.any() else grey.ravel()
    return float(np.median(inside))


#: The lighting gain read off the belt is believed within these limits (a lamp failing,
#: a door opened); beyond them the view is corrected by the part's own brightness.
LIGHT_LIMITS = (0.4, 2.5)


def belt_gain(image: np.ndarray, mask: np.ndarray, background: np.ndarray) -> float | None:
    """How much brighter the taught belt is than the belt around this part: the light.

    The belt, not the part, says how the light changed, so a part that is itself too
    dark or of the wrong colour is not corrected into a good one. The median of the
    belt pixels a few pixels away from the part shrugs off dirt and a neighbour's edge.
    None when too little belt shows, or the gain is beyond `LIGHT_LIMITS`.
    """
    near = cv2.dilate((mask > 0.1).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    belt = image[~near]
    if belt.shape[0] < 50:
        return None
    here = float(np.median(belt.mean(axis=1)))
    gain = float(background.mean()) / max(here, 1.0)
    return gain if LIGHT_LIMITS[0] <= gain <= LIGHT_LIMITS[1] else None


def normalise(image: np.ndarray, body: np.ndarray, brightness: float) -> np.ndarray:
    """The view with its brightness brought to the taught level, within GAIN_LIMITS.

    One gain for all channels: lighting that drifts or flickers changes brightness,
    not hue, so a part of the wrong colour still differs.
    """
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
    keep = cv2.dilate((mask > 0.1).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return np.where(keep[:, :, None], image, background[None, None, :]).astype(np.float32)


def background_of(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """The belt's colour around taught parts: median over pixels no part comes near."""
    far = masks.max(axis=0) < 0.02
    if not far.any():
        far = masks.mean(axis=0) < 0.5
    return np.median(images[:, far].reshape(-1, 3), axis=0).astype(np.float32)


def peak(anomaly_map: np.ndarray) -> float:
    """A view's score: the peak of its anomaly map."""
    return float(anomaly_map.max())


def region_of(masks: np.ndarray, margin_px: int = 3) -> np.ndarray:
    """Where a defect counts: pixels any good view covered, widened by `margin_px`.

    The margin keeps a chipped edge (part pixels missing at the outline) inside.
    """
    covered = (masks.max(axis=0) > 0.5).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin_px + 1,) * 2)
    return (cv2.dilate(covered, kernel) > 0).astype(np.float32)


def part_score(view_scores: list[float]) -> float:
    """One part's score over its views: the median, so a glitch in one frame is ignored."""
    return float(np.median(view_scores))


#: Factor above the robust fit's false-reject quantile: a few dozen held-out parts pin
#: their centre and spread, not their 1 % tail, and new good parts scatter a little
#: past it, while defects score several times higher than good parts.
THRESHOLD_MARGIN = 1.3
#: Smallest spread of log scores assumed (held-out parts that happen to score alike).
MIN_LOG_SPREAD = 0.05


def robust_log_fit(scores: np.ndarray) -> tuple[float, float]:
    """Median and MAD-based standard deviation of log scores (one odd part moves neither)."""
    logs = np.log(np.maximum(np.asarray(scores, np.float64), 1e-6))
    centre = float(np.median(logs))
    spread = 1.4826 * float(np.median(np.abs(logs - centre)))
    return centre, max(spread, MIN_LOG_SPREAD)


def threshold_for(scores: np.ndarray, false_reject_rate: float) -> float:
    """The score above which a part is rejected, from held-out good parts' scores.

    A log-normal fitted with the median and the median absolute deviation, so a
    defective part among the "good" ones cannot drag the threshold up with it; the
    (1 - rate) quantile of that fit times `THRESHOLD_MARGIN`.
    """
    centre, spread = robust_log_fit(scores)
    z = NormalDist().inv_cdf(1.0 - false_reject_rate)
    return math.exp(centre + z * spread) * THRESHOLD_MARGIN


def outliers(scores: np.ndarray, sigmas: float = 4.0) -> np.ndarray:
    """Which scores lie far above the rest (robust log fit): parts unlike the others."""
    centre, spread = robust_log_fit(scores)
    logs = np.log(np.maximum(np.asarray(scores, np.float64), 1e-6))
    return np.asarray(logs > centre + sigmas * spread)


def load_inspector(config: Any) -> Any:
    """The line's inspector (see `agent.inspection.loader.load_inspector`)."""
    from agent.inspection.loader import load_inspector as load

    return load(config)
