"""Parts against the belt: difference from a per-row belt colour, then split touching parts.

The belt is modelled as one colour per row across the flow (a belt's colour varies
across it with the light, hardly along it, and its texture moves). Each frame:

1. the largest per-channel difference from the belt row colour, thresholded at
   `contrast` grey levels;
2. holes inside parts filled (bolt holes show the belt), then a 3x3 opening removes
   noise, seams and dust;
3. touching parts split: erosions separate parts joined by a neck (see `_seeds`); each
   solid core is a seed and every part pixel joins its nearest seed;
4. pieces smaller than `min_area` work pixels dropped.

The belt model then learns from the pixels that are not parts (parts grown by one
pixel), so a part standing still in view is never learnt into the belt.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from agent.counting import Blob

logger = logging.getLogger(__name__)

_SQUARE = np.ones((3, 3), np.uint8)


class BeltSegmenter:
    """Finds parts in canonical work images (see the module docstring)."""

    def __init__(
        self,
        min_area: int,
        contrast: float = 28.0,
        learn_rate: float = 0.5,
        learn_every: int = 3,
    ) -> None:
        self.min_area = max(1, min_area)
        self.contrast = contrast
        self.learn_rate = learn_rate
        self.learn_every = learn_every
        self._seed_area = max(4, self.min_area // 4)
        self._belt: np.ndarray | None = None  # (rows, 3) float32
        self._belt_image: np.ndarray | None = None
        self._frames = 0

    def reset(self) -> None:
        """Forget the belt (after a gap in the footage)."""
        self._belt = None
        self._frames = 0

    @property
    def belt(self) -> np.ndarray | None:
        """The belt's colour per row across the flow (BGR float), once learnt."""
        return self._belt

    def segment(self, image: np.ndarray) -> tuple[np.ndarray, list[Blob]]:
        """Label the parts in one canonical work image (rows across, columns along).

        Returns:
            An int32 label image (0 = belt) and the blobs, ordered along the flow.
        """
        if self._belt is None or self._belt.shape[0] != image.shape[0]:
            self._belt = np.median(image, axis=1).astype(np.float32)
        belt_u8 = np.clip(self._belt, 0, 255).astype(np.uint8)[:, None, :]
        if self._belt_image is None or self._belt_image.shape != image.shape:
            self._belt_image = np.empty_like(image)
        self._belt_image[:] = belt_u8
        blue, green, red = cv2.split(cv2.absdiff(image, self._belt_image))
        strongest = cv2.max(cv2.max(blue, green), red)
        _, raw = cv2.threshold(strongest, self.contrast, 1, cv2.THRESH_BINARY)
        # fill holes first (a 3x3 opening would cut a washer's ring at its bolt holes)
        holes_filled = np.zeros_like(raw)
        contours, _ = cv2.findContours(raw, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if contours:
            cv2.drawContours(holes_filled, contours, -1, 1, thickness=cv2.FILLED)
        filled = cv2.morphologyEx(holes_filled, cv2.MORPH_OPEN, _SQUARE)
        self._frames += 1
        if self._frames % self.learn_every == 0:
            self._learn(image, filled)
        return self._label(filled)

    def _label(self, filled: np.ndarray) -> tuple[np.ndarray, list[Blob]]:
        """Labels and blobs, with touching parts separated at thin necks."""
        count, labels, stats, _ = cv2.connectedComponentsWithStats(filled, connectivity=8)
        if count > 1:
            seeds = self._seeds(filled)
            if seeds is not None and seeds[0] > count - 1:
                count, labels, stats = self._cut(filled, seeds[1])
        blobs = []
        for i in range(1, count):
            x, y, w, h, area = (int(v) for v in stats[i])
            if area >= self.min_area:
                blobs.append(Blob(i, x + w / 2.0, y + h / 2.0, (x, y, x + w, y + h), area))
        blobs.sort(key=lambda b: b.x)
        return labels, blobs

    def _seeds(self, filled: np.ndarray) -> tuple[int, np.ndarray] | None:
        """Cores of parts: one erosion, and a second one where it splits a core further.

        One erosion separates parts joined by a thin neck and keeps thin parts (an L's
        arms) whole; the second separates broader contacts. A core the second erosion
        splits into two or more solid cores is replaced by them; crumbs (a thin arm
        eroded away) seed nothing and their pixels join the nearest core.
        """
        core1 = cv2.erode(filled, _SQUARE)
        n1, labels1, stats1, _ = cv2.connectedComponentsWithStats(core1, connectivity=4)
        if n1 <= 1:
            return None
        core2 = cv2.erode(core1, _SQUARE)
        n2, labels2, stats2, _ = cv2.connectedComponentsWithStats(core2, connectivity=4)
        solid2 = np.flatnonzero(stats2[:, cv2.CC_STAT_AREA] >= self._seed_area)
        solid2 = solid2[solid2 > 0]
        seeds = np.zeros(filled.shape, bool)
        split_parents: set[int] = set()
        if solid2.size > 1:
            # which first-level core each solid second-level core lies in; a child
            # smaller than a tenth of its parent is an arm's end, not a part
            mask2 = np.isin(labels2, solid2)
            parents = labels1[mask2]
            pairs = np.unique(np.stack([parents, labels2[mask2]]), axis=1)
            big_enough = (
                stats2[pairs[1], cv2.CC_STAT_AREA] >= 0.1 * stats1[pairs[0], cv2.CC_STAT_AREA]
            )
            pairs = pairs[:, big_enough]
            per_parent = np.bincount(pairs[0], minlength=n1)
            split_parents = set(np.flatnonzero(per_parent >= 2).tolist())
            if split_parents:
                children = pairs[1][np.isin(pairs[0], list(split_parents))]
                seeds |= np.isin(labels2, children)
        keep = [
            i
            for i in range(1, n1)
            if i not in split_parents and stats1[i, cv2.CC_STAT_AREA] >= self._seed_area
        ]
        seeds |= np.isin(labels1, keep)
        n_seeds = len(keep) + (
            int(np.isin(pairs[0], list(split_parents)).sum()) if split_parents else 0
        )
        return n_seeds, seeds

    @staticmethod
    def _cut(filled: np.ndarray, seeds: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
        """Give every part pixel to its nearest seed, and cut between neighbouring seeds."""
        _, nearest = cv2.distanceTransformWithLabels(
            (~seeds).astype(np.uint8), cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_CCOMP
        )
        owner = np.where(filled > 0, nearest, 0)
        boundary = np.zeros(filled.shape, bool)
        boundary[:, 1:] |= owner[:, 1:] != owner[:, :-1]
        boundary[1:, :] |= owner[1:, :] != owner[:-1, :]
        pieces = np.where(boundary, 0, filled).astype(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(pieces, connectivity=4)
        return count, labels, stats

    def _learn(self, image: np.ndarray, filled: np.ndarray) -> None:
        assert self._belt is not None
        belt_px = (cv2.dilate(filled, _SQUARE) == 0).astype(np.uint8)
        masked = cv2.bitwise_and(image, image, mask=belt_px)
        sums = cv2.reduce(masked, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32F).reshape(-1, 3)
        counts = cv2.reduce(belt_px, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()
        usable = counts >= max(4, image.shape[1] // 4)
        if usable.any():
            rows = sums[usable] / counts[usable, None]
            self._belt[usable] += self.learn_rate * (rows - self._belt[usable])
