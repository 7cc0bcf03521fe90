"""The light a part is under, read from the belt around it: one histogram per frame.

A part's light is the belt's grey in a band of rows around it (the part's rows and as
many again on either side, along the whole ROI), without the parts found in it (their
pixels grown by one): the mean of the middle 60 % of the band's grey levels (between
its 20th and 80th percentiles), so many repeats of a patterned belt average out and a
part outside the counting window or a smudge of dirt falls in the trimmed tails.

Every part near the count line asks for it in every frame it is seen, so the frame's
grey (the sum of B, G and R: 0..765, grey = sum / 3) and its parts grown along the rows
are made once, and each band counts its belt pixels per grey level (one `np.bincount`):
the quantiles and the trimmed mean come from those counts, not from sorting the
pixels. The answers are those of `np.percentile` over the band's pixels: the same
levels kept, their mean equal up to rounding in the last bits.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from agent.counting.quantile import quantiles

#: Grey levels as sums of three 8-bit channels.
_LEVELS = 3 * 255 + 1
_GREYS = np.arange(_LEVELS, dtype=np.float64) / 3.0
_ACROSS = np.ones((1, 3), np.uint8)
_ALONG = np.ones((3, 1), np.uint8)
#: A band with fewer belt pixels than this tells no light.
_FEWEST = 50


class BeltLight:
    """The belt's light in one frame's work image (see the module docstring).

    Args:
        image: The canonical BGR work image (rows across the flow).
        labels: The counter's labels of the window `offset:offset + width` (0 = belt).
        offset: The window's first column in the work image.
    """

    def __init__(self, image: np.ndarray, labels: np.ndarray, offset: int) -> None:
        self._image = image
        self._labels = labels
        self._offset = offset
        self._levels: np.ndarray | None = None  # built when first asked
        self._belt: np.ndarray | None = None

    def around(self, y0: int, y1: int) -> float | None:
        """The light of a part spanning rows `y0:y1` (None: too little belt shows)."""
        grow = y1 - y0
        first, end = max(0, y0 - grow), min(self._image.shape[0], y1 + grow)
        if end <= first:
            return None
        counts = self._band(first, end)
        cumulative = np.cumsum(counts)
        if int(cumulative[-1]) < _FEWEST:
            return None
        low, high = quantiles(cumulative, _GREYS, (0.2, 0.8))
        # the levels from `low` to `high` (`_GREYS` ascends: one run of them)
        start, stop = _first_at_least(low), _last_at_most(high) + 1
        chosen = counts[start:stop]
        return float(np.dot(chosen, _GREYS[start:stop]) / chosen.sum())

    def _band(self, first: int, end: int) -> np.ndarray:
        """Belt pixels per grey level in rows `first:end` (int64).

        The parts are grown by one pixel within the band only (as a dilation of the
        band's own labels would): its first and last rows do not see parts beyond it.
        An erosion of the belt across the rows is that growth (its border, outside the
        band, counts as belt), and `np.bincount` counts the levels under it (the
        counts `calcHist` gave, at a quarter less: it bins uint16 levels in floats).
        """
        belt = cv2.erode(self._belt_along()[first:end], _ALONG)
        return np.bincount(self._sums()[first:end][belt.view(bool)], minlength=_LEVELS)

    def _belt_along(self) -> np.ndarray:
        """1 on the belt, 0 on the parts grown by one pixel along each row (uint8).

        The whole work image: outside the labelled window every pixel is belt.
        """
        if self._belt is None:
            belt = np.ones(self._image.shape[:2], np.uint8)
            window = (self._labels == 0).view(np.uint8)
            # eroding the belt along the rows grows the parts along them (the border,
            # outside the window, counts as belt)
            belt[:, self._offset : self._offset + window.shape[1]] = cv2.erode(window, _ACROSS)
            self._belt = belt
        return self._belt

    def _sums(self) -> np.ndarray:
        """B + G + R per pixel (uint16)."""
        if self._levels is None:
            image = self._image
            self._levels = np.add(
                np.add(image[..., 0], image[..., 1], dtype=np.uint16), image[..., 2]
            )
        return self._levels


def _first_at_least(level: float) -> int:
    """The first index of `_GREYS` at or above `level` (0..765 grey levels)."""
    k = max(0, math.ceil(level * 3) - 1)
    while k / 3.0 < level:  # (`_GREYS[k]` is `k / 3.0` to the bit)
        k += 1
    return k


def _last_at_most(level: float) -> int:
    """The last index of `_GREYS` at or below `level`."""
    k = min(_LEVELS - 1, math.floor(level * 3) + 1)
    while k / 3.0 > level:
        k -= 1
    return k
