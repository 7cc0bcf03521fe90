"""Belt motion from a downscaled grey ROI: changed pixels, and the shift along the flow.

Two cheap measures per frame, on the ROI at the work resolution (a few thousand pixels):

- *energy*, the way Frigate's motion detector works: the fraction of pixels that differ
  from a running-average background by more than `pixel_threshold` grey levels. Each
  frame is first scaled to a mean of 128, so a flickering or slowly drifting light does
  not look like motion.
- *speed*: the ROI is averaged across the flow into a 1-D profile (belt seams, dirt and
  parts make its bumps); the lag that best correlates this profile with the previous
  frame's is how far the belt moved. Camera shake jitters that lag around zero, so the
  median over a short window stays near zero; a running belt shifts it steadily.

The line counts as moving when enough pixels changed, the median speed along the flow
over the last few frames is at least `min_speed` ROI lengths per second, *and* the belt
has travelled at least `min_travel_px` work pixels over the last `travel_window_s`
(shake moves the image back and forth, so its shifts add up to no more than twice its
amplitude, while a running belt's add up steadily).
"""

from __future__ import annotations

import logging
import math
from collections import deque

import cv2
import numpy as np

from agent.flow import FlowReading

logger = logging.getLogger(__name__)


def profile_shift(previous: np.ndarray, current: np.ndarray, max_lag: int) -> tuple[float, float]:
    """How far `current` is shifted against `previous` (1-D, float), sub-pixel.

    Returns:
        (shift in samples, normalised correlation at the peak in -1..1).
    """
    if previous.size < 4 or current.size != previous.size:
        return 0.0, 0.0
    return _shift(_centred(previous), _centred(current), max_lag)


def _centred(profile: np.ndarray) -> tuple[np.ndarray, float]:
    """A profile less its mean, and its sum of squares (kept for the next frame)."""
    centred = profile - profile.sum() / profile.size  # the mean, less numpy's wrapping
    return centred, float(np.dot(centred, centred))


def _shift(
    previous: tuple[np.ndarray, float], current: tuple[np.ndarray, float], max_lag: int
) -> tuple[float, float]:
    (a, aa), (b, bb) = previous, current
    norm = math.sqrt(aa * bb)
    if norm < 1e-6:
        return 0.0, 0.0
    # scores[max_lag + k] = sum_i b[i + k] * a[i] for |k| <= max_lag, b zero outside:
    # plain sums over the overlap, so large lags overlap less and score lower, which is
    # what keeps a periodic belt (seams) from aliasing to a backwards jump. Only these
    # lags are computed (a "full" correlation costs n / max_lag times as much)
    edge = np.zeros(max_lag, b.dtype)
    scores = np.correlate(np.concatenate((edge, b, edge)), a, mode="valid")
    best = int(scores.argmax())  # the first of equal peaks
    shift = float(best - max_lag)
    if 0 < best < len(scores) - 1:
        left, mid, right = scores[best - 1 : best + 2].tolist()
        curvature = left - 2 * mid + right
        if curvature < 0:
            shift += 0.5 * (left - right) / curvature
    return shift, float(scores[best]) / norm


class BeltMotion:
    """The flow detector the pipeline uses (see the module docstring)."""

    def __init__(
        self,
        motion_threshold: float = 0.002,
        min_speed: float = 0.02,
        pixel_threshold: float = 6.0,
        window: int = 5,
        background_alpha: float = 0.25,
        travel_window_s: float = 0.6,
        min_travel_px: float = 2.0,
    ) -> None:
        self.motion_threshold = motion_threshold
        self.min_speed = min_speed
        self.pixel_threshold = pixel_threshold
        self.background_alpha = background_alpha
        self._background: np.ndarray | None = None
        self._profile: tuple[np.ndarray, float] | None = None
        self._mono: float | None = None
        self._speeds: deque[float] = deque(maxlen=window)
        self.travel_window_s = travel_window_s
        self.min_travel_px = min_travel_px
        self._travel: deque[tuple[float, float]] = deque()
        self._travelled = 0.0

    def reset(self) -> None:
        """Forget the past (after a gap in the footage)."""
        self._background = None
        self._profile = None
        self._mono = None
        self._speeds.clear()
        self._travel.clear()
        self._travelled = 0.0

    def update(self, grey: np.ndarray, mono: float) -> FlowReading:
        """Take one frame's canonical grey ROI (cross x along), stamped `mono` seconds."""
        mean = float(cv2.mean(grey)[0])
        image = cv2.convertScaleAbs(grey, alpha=128.0 / mean if mean > 1.0 else 1.0)
        if self._background is None or self._background.shape != image.shape:
            self._background = image.astype(np.float32)
        background = cv2.convertScaleAbs(self._background)
        _, changed = cv2.threshold(
            cv2.absdiff(image, background), self.pixel_threshold, 1, cv2.THRESH_BINARY
        )
        energy = cv2.countNonZero(changed) / changed.size
        cv2.accumulateWeighted(image, self._background, self.background_alpha)

        profile = cv2.reduce(image, 0, cv2.REDUCE_AVG, dtype=cv2.CV_32F)
        # remove the slow light fall-off along the belt; keep seams, dirt and parts
        # (reflected borders: zero padding would put the same step at both ends of
        # every frame's profile, and that static step would win the correlation)
        kernel = max(3, (profile.size // 8) | 1)
        smooth = cv2.blur(profile, (kernel, 1), borderType=cv2.BORDER_REFLECT)
        profile = (profile - smooth).ravel()
        centred = _centred(profile) if profile.size >= 4 else None
        speed = 0.0
        dt = 0.0
        if self._profile is not None and self._mono is not None and mono > self._mono:
            dt = mono - self._mono
            max_lag = max(2, profile.size // 8)
            shift, quality = (
                _shift(self._profile, centred, max_lag)
                if centred is not None and self._profile[0].size == profile.size
                else (0.0, 0.0)
            )
            if quality > 0.2:
                speed = float(shift) / profile.size / (mono - self._mono)
        self._profile = centred
        self._mono = mono
        self._speeds.append(speed)
        median = float(sorted(self._speeds)[len(self._speeds) // 2])
        # net travel over the last `travel_window_s`: shake jitters back and forth, so
        # its per-frame shifts telescope to no more than twice its amplitude
        moved = speed * profile.size * dt
        self._travel.append((mono, moved))
        self._travelled += moved
        while mono - self._travel[0][0] > self.travel_window_s:
            self._travelled -= self._travel.popleft()[1]
        travel = self._travelled
        moving = bool(
            energy >= self.motion_threshold
            and median >= self.min_speed
            and travel >= self.min_travel_px
        )
        return FlowReading(speed=median, energy=energy, moving=moving)
