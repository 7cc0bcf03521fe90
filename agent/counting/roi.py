"""The ROI at the work resolution, turned so that parts always flow along +x.

Every later stage works in this canonical frame (x along the flow, y across it, a
quarter of the frame's resolution by default), so one code path serves all four
directions. Boxes and masks map back to full-resolution frame pixels for crops.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from agent.config import Direction

logger = logging.getLogger(__name__)


class RoiView:
    """Cuts the ROI out of frames, shrinks it by `2**halvings`, turns it canonical."""

    def __init__(
        self,
        roi: tuple[int, int, int, int],
        direction: Direction | str,
        frame_size: tuple[int, int],
        halvings: int = 2,
    ) -> None:
        """Clip `roi` (x, y, w, h) to a `frame_size` (w, h) frame.

        Raises:
            ValueError: the ROI lies outside the frame or is too small to work on.
        """
        self.direction = Direction(direction)
        self.factor = 2**halvings
        self.halvings = halvings
        fw, fh = frame_size
        x, y, w, h = roi
        x0, y0 = min(max(0, x), fw), min(max(0, y), fh)
        x1, y1 = min(fw, x + w), min(fh, y + h)
        # whole multiples of the factor, so every halving is an exact 2x2 average
        w = (x1 - x0) // self.factor * self.factor
        h = (y1 - y0) // self.factor * self.factor
        if w < 4 * self.factor or h < 4 * self.factor:
            raise ValueError(
                f"vision.roi {list(roi)} leaves too little of the {fw}x{fh} frame to work on"
            )
        self.x, self.y, self.w, self.h = x0, y0, w, h
        self.small_w, self.small_h = w // self.factor, h // self.factor
        horizontal = self.direction in (Direction.LEFT_TO_RIGHT, Direction.RIGHT_TO_LEFT)
        #: (along, across) size of the canonical work image.
        self.shape = (self.small_w, self.small_h) if horizontal else (self.small_h, self.small_w)

    @property
    def along(self) -> int:
        """Length of the canonical image along the flow, in work pixels."""
        return self.shape[0]

    def work(self, frame: np.ndarray) -> np.ndarray:
        """The canonical work image (across x along x 3, contiguous uint8)."""
        image = frame[self.y : self.y + self.h, self.x : self.x + self.w]
        # bilinear at an exact 1/2**n scale averages the central 2x2 of each block:
        # a tenth of INTER_AREA's cost at 1/4, and the noise it lets through is small
        small = cv2.resize(image, (self.small_w, self.small_h), interpolation=cv2.INTER_LINEAR)
        return np.ascontiguousarray(self.to_canonical(small))

    def to_canonical(self, image: np.ndarray) -> np.ndarray:
        """Turn an image in frame orientation into the canonical one (a view)."""
        if self.direction == Direction.BOTTOM_TO_TOP:
            return image[::-1].swapaxes(0, 1)
        return self._mirrored(image)

    def from_canonical(self, image: np.ndarray) -> np.ndarray:
        """Turn a canonical image back into frame orientation (a view)."""
        if self.direction == Direction.BOTTOM_TO_TOP:
            return image.swapaxes(0, 1)[::-1]
        return self._mirrored(image)

    def _mirrored(self, image: np.ndarray) -> np.ndarray:
        """The other directions' turn, each its own inverse: identity, flip, transpose."""
        if self.direction == Direction.RIGHT_TO_LEFT:
            return image[:, ::-1]
        if self.direction == Direction.TOP_TO_BOTTOM:
            return image.swapaxes(0, 1)
        return image

    def to_frame_box(self, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """A canonical work box (x0, y0, x1, y1) as frame pixels (x0, y0, x1, y1)."""
        a0, c0, a1, c1 = box
        d = self.direction
        if d == Direction.LEFT_TO_RIGHT:
            sx0, sy0, sx1, sy1 = a0, c0, a1, c1
        elif d == Direction.RIGHT_TO_LEFT:
            sx0, sy0, sx1, sy1 = self.small_w - a1, c0, self.small_w - a0, c1
        elif d == Direction.TOP_TO_BOTTOM:
            sx0, sy0, sx1, sy1 = c0, a0, c1, a1
        else:
            sx0, sy0, sx1, sy1 = c0, self.small_h - a1, c1, self.small_h - a0
        f = self.factor
        return (self.x + sx0 * f, self.y + sy0 * f, self.x + sx1 * f, self.y + sy1 * f)
