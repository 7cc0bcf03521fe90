"""Belt motion from a downscaled grey ROI: changed pixels, and the shift along the flow.

Two cheap measures per frame, on the ROI at the work resolution (a few thousand pixels):

- *energy*, the way Frigate's motion detector works: the fraction of pixels that differ
  from a running-average background by more than `pixel_threshold` grey levels. Each
  frame is first scaled to a mean of 128, so a flickering or slowly drifting light does
  not look like motion.
- *speed*: the ROI is averaged across the flow into a 1-D profile (belt seams, cleats,
  links, dirt and parts make its bumps), band-passed, and correlated with the previous
  frame's; each lag is scored over the two profiles' overlap only. A belt's pattern
  repeats, so several lags can match alike (a belt that moved more than half a period
  looks like one that moved back): of those, no shift wins if it is one of them (a
  halt is always seen), else the least forward one (belts run forwards). Camera shake
  jitters the shift around zero, so the median over a short window stays near zero; a
  running belt shifts it steadily.

The line counts as moving when enough pixels changed, the median speed along the flow
over the last few frames is at least `min_speed` ROI lengths per second, *and* the belt
has travelled at least `min_travel_px` work pixels over the last `travel_window_s`
(shake moves the image back and forth, so its shifts add up to no more than twice its
amplitude, while a running belt's add up steadily).
"""

from __future__ import annotations

import functools
import logging
from collections import deque
from typing import NamedTuple

import cv2
import numpy as np

from agent.flow import FlowReading

logger = logging.getLogger(__name__)

#: Correlations this close to the best are the same match (noise, or the pattern repeating).
_SAME = 0.1
#: Work pixels that camera shake (and a seam's sub-pixel look) moves a still belt by.
_JITTER = 1.5


def profile_shift(
    previous: np.ndarray, current: np.ndarray, max_lag: int, ahead: int | None = None
) -> tuple[float, float]:
    """How far `current` is shifted against `previous` (1-D, float), sub-pixel.

    Lags from -`max_lag` to +`ahead` (default `max_lag`) are searched; of the shifts
    that match about as well as the best one, the slowest forward one is taken (see
    `BeltMotion`).

    Returns:
        (shift in samples, normalised correlation at that shift in -1..1).
    """
    if previous.size < 4 or current.size != previous.size:
        return 0.0, 0.0
    ahead = max_lag if ahead is None else ahead
    a, b = (np.asarray(p, np.float32) for p in (previous, current))
    return _shift(
        _prepare(a - a.mean(), max_lag, ahead), _prepare(b - b.mean(), max_lag, ahead), max_lag
    )


@functools.lru_cache(maxsize=8)
def _band_pass(size: int) -> np.ndarray:
    """The filter a profile of `size` samples goes through before it is correlated.

    It removes the slow light fall-off along the belt (a box an eighth of the profile
    long) and keeps seams, dirt and parts, softened a little (a Gaussian of one
    sample): a seam a pixel wide must not hide its correlation peak between two lags.
    """
    box = max(3, (size // 8) | 1)
    width = max(box, 5)
    kernel = np.zeros((1, width), np.float32)
    kernel[0, (width - 5) // 2 : (width + 5) // 2] = cv2.getGaussianKernel(5, 1.0).ravel()
    kernel[0, (width - box) // 2 : (width + box) // 2] -= 1.0 / box
    return kernel


class _Profile(NamedTuple):
    """A frame's profile, ready to be correlated with the frames before and after it."""

    #: The profile with `back` zeros before it and `ahead` after it.
    padded: np.ndarray
    #: The profile itself (a view of `padded`).
    profile: np.ndarray
    #: Per lag -back..ahead, the root of its energy over the overlap with a later
    #: frame's profile, and with an earlier one's.
    as_earlier: np.ndarray
    as_later: np.ndarray


@functools.lru_cache(maxsize=8)
def _boxes(n: int, back: int, ahead: int) -> tuple[np.ndarray, np.ndarray]:
    """Ones where a profile of n samples is, padded as `_Profile.padded`, and unpadded."""
    ones = np.ones(n, np.float32)
    return np.concatenate((np.zeros(back, np.float32), ones, np.zeros(ahead, np.float32))), ones


def _prepare(profile: np.ndarray, back: int, ahead: int) -> _Profile:
    """Pad a profile (float32, mean about 0) and sum its energy over every overlap."""
    n = profile.size
    padded = np.zeros(back + n + ahead, np.float32)
    padded[back : back + n] = profile
    squared = np.square(padded)
    box_padded, box = _boxes(n, back, ahead)
    return _Profile(
        padded,
        padded[back : back + n],
        np.sqrt(np.correlate(box_padded, squared[back : back + n], mode="valid")),
        np.sqrt(np.correlate(squared, box, mode="valid")),
    )


def _shift(previous: _Profile, current: _Profile, back: int) -> tuple[float, float]:
    # scores[back + k] = sum_i b[i + k] * a[i] over the overlap, normalised by the
    # overlap's own energies: a repeating belt scores the same at every repeat
    scores = np.correlate(current.padded, previous.profile, mode="valid") / (
        previous.as_earlier * current.as_later + 1e-9
    )
    # the peaks that could match about as well as the best, each placed and scored
    # between lags by a parabola through it and its neighbours. A hundred lags or so:
    # one list and plain Python cost less than a numpy call per step
    values = scores.tolist()
    # (numpy compares float32 scores with a Python float in float32: so here)
    floor = float(scores.dtype.type(max(values) - 2 * _SAME))
    peaks: list[tuple[float, float]] = []  # (shift, score)
    for i in range(1, len(values) - 1):
        mid = values[i]
        if mid < floor:
            continue
        left, right = values[i - 1], values[i + 1]
        if left <= mid > right:
            curvature = min(left - 2 * mid + right, -1e-9)
            shift = i - back + 0.5 * (left - right) / curvature
            peaks.append((shift, mid - (left - right) ** 2 / (8 * curvature)))
    return _pick(peaks)


def _pick(peaks: list[tuple[float, float]]) -> tuple[float, float]:
    """(shift, score) of the peak the belt moved by, from (shift, score) peaks.

    Shifts that match within `_SAME` of the best are one match: noise, or the belt's
    pattern repeating, which two frames cannot tell apart. Then the belt stands still
    (moved within `_JITTER`, as shake moves it) if that is one of them, else it moved
    the least forwards (a belt runs forwards), else it ran backwards.
    """
    if not peaks:
        return 0.0, 0.0
    best = max(score for _, score in peaks)
    alike = [(shift, score) for shift, score in peaks if score >= best - _SAME]
    still = [p for p in alike if abs(p[0]) <= _JITTER]
    forward = [p for p in alike if p[0] > _JITTER]
    if still:
        shift, score = max(still, key=lambda p: p[1])
    elif forward:
        shift, score = forward[0]
    else:
        shift, score = max(alike, key=lambda p: p[1])
    return shift, min(score, 1.0)


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
        self._profile: _Profile | None = None
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
        # reflected borders: zero padding would put the same step at both ends of
        # every frame's profile, and that static step would win the correlation
        profile = cv2.filter2D(
            profile, -1, _band_pass(profile.size), borderType=cv2.BORDER_REFLECT
        )[0]
        # search back 1/8 of the ROI (a belt run backwards) and forwards 1/2 of it
        back = max(2, profile.size // 8)
        prepared = _prepare(profile, back, max(3, profile.size // 2))
        speed = 0.0
        dt = 0.0
        if self._profile is not None and self._mono is not None and mono > self._mono:
            dt = mono - self._mono
            shift, quality = (
                _shift(self._profile, prepared, back)
                if self._profile.padded.size == prepared.padded.size
                else (0.0, 0.0)
            )
            if quality > 0.2:
                speed = shift / profile.size / dt
        self._profile = prepared
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
