"""Parts against the belt: difference from a per-row belt colour, then split touching parts.

The belt is modelled as one colour per row across the flow (a belt's colour varies
across it with the light, hardly along it, and its texture moves). Each frame:

1. the largest per-channel difference from the belt row colour, thresholded at
   `contrast` grey levels;
2. holes inside parts filled (bolt holes show the belt), then a 3x3 opening removes
   noise, seams and dust;
3. touching parts split: erosions separate parts joined by a neck (see `_seeds`); each
   solid core is a seed and every part pixel joins its nearest seed. Only done when a
   piece is half as big again as a small part seen lately (the costly step, and the
   usual frame has nothing to split);
4. pieces smaller than `min_area` work pixels dropped.

The belt model then learns from the pixels that are not parts (parts grown by one
pixel), so a part standing still in view is never learnt into the belt.
"""

from __future__ import annotations

import logging
from collections import deque

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
        self._pictures: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._frames = 0
        self._areas: deque[int] = deque(maxlen=200)
        self._reference: float | None = None
        self._checks = 0

    def reset(self) -> None:
        """Forget the belt (after a gap in the footage)."""
        self._belt = None
        self._pictures.clear()
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
            self._pictures.clear()
        raw = self._differs(image)
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
        count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
            filled, 8, cv2.CV_32S, cv2.CCL_BBDT
        )
        rows = stats.tolist()  # a handful of pieces: plain lists from here on
        if count > 1 and self._may_hold_several(rows[1:], filled.shape[1]):
            seeds = self._seeds(filled, count - 1)
            if seeds is not None:
                count, labels, stats = self._cut(filled, seeds)
                rows = stats.tolist()
        blobs = [
            Blob(i, x + w / 2.0, y + h / 2.0, (x, y, x + w, y + h), area)
            for i, (x, y, w, h, area) in enumerate(rows)
            if i and area >= self.min_area
        ]
        blobs.sort(key=lambda b: b.x)
        return labels, blobs

    def _may_hold_several(self, rows: list[list[int]], along: int) -> bool:
        """Whether any piece is big enough to be touching parts (so worth splitting).

        `rows` are the pieces' (x, y, w, h, area). The reference is a low quantile of
        the areas of whole pieces seen lately (a small single part); a piece half as
        big again may be two. Until enough pieces were seen, every frame is checked.
        """
        self._areas.extend(
            area for x, _, w, _, area in rows if x > 0 and x + w < along and area >= self.min_area
        )
        self._checks += 1
        if len(self._areas) < 20:
            return True
        if self._reference is None or self._checks % 10 == 0:
            self._reference = float(np.percentile(self._areas, 20))
        return max(row[4] for row in rows) >= 1.5 * self._reference

    def _seeds(self, filled: np.ndarray, pieces: int) -> np.ndarray | None:
        """Cores of parts: one erosion, and a second one where it splits a core further.

        One erosion separates parts joined by a thin neck and keeps thin parts (an L's
        arms) whole; the second separates broader contacts. A core the second erosion
        splits into two or more solid cores (each at least a tenth of it: less is an
        arm's end) is replaced by them; crumbs (a thin arm eroded away) seed nothing
        and their pixels join the nearest core.

        Returns:
            The seed mask, or None when there are no more seeds than `pieces` (the
            usual case: nothing to split).
        """
        core1 = cv2.erode(filled, _SQUARE)
        # plain labelling plus a bincount: a third of the cost of ...WithStats here
        n1, labels1 = cv2.connectedComponents(core1, connectivity=4)
        if n1 <= 1:
            return None
        area1 = np.bincount(labels1.ravel(), minlength=n1)
        solid1 = area1 >= self._seed_area
        solid1[0] = False
        core2 = cv2.erode(core1, _SQUARE)
        n2, labels2 = cv2.connectedComponents(core2, connectivity=4)
        children = np.zeros(n2, bool)
        split = np.zeros(n1, bool)
        if n2 > 2:
            # the first-level core each second-level core lies in (1-D keys: cheap)
            area2_all = np.bincount(labels2.ravel(), minlength=n2)
            inside = core2 > 0
            keys = np.unique(labels1[inside].astype(np.int64) * n2 + labels2[inside])
            parent, child = keys // n2, keys % n2
            area2 = area2_all[child]
            good = (area2 >= self._seed_area) & (area2 >= 0.1 * area1[parent])
            parent, child = parent[good], child[good]
            split = np.bincount(parent, minlength=n1) >= 2
            children[child[split[parent]]] = True
        whole = solid1 & ~split
        if int(whole.sum() + children.sum()) <= pieces:
            return None
        seeds: np.ndarray = whole[labels1] | children[labels2]
        return seeds

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
        # 1 on belt pixels: not a part, nor next to one
        _, belt_px = cv2.threshold(cv2.dilate(filled, _SQUARE), 0, 1, cv2.THRESH_BINARY_INV)
        masked = cv2.bitwise_and(image, image, mask=belt_px)
        sums = cv2.reduce(masked, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).reshape(-1, 3)
        counts = cv2.reduce(belt_px, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()
        usable = counts >= max(4, image.shape[1] // 4)
        if usable.all():
            self._belt += self.learn_rate * (sums / counts[:, None] - self._belt)
        elif usable.any():
            rows = sums[usable] / counts[usable, None]
            self._belt[usable] += self.learn_rate * (rows - self._belt[usable])
        else:
            return
        self._pictures.clear()

    def _differs(self, image: np.ndarray) -> np.ndarray:
        """Non-zero where a pixel differs from its row's belt colour by more than `contrast`.

        One `inRange` against the belt picture +- the contrast (a pixel is belt when
        every channel is within it), inverted: the same as thresholding the largest
        channel difference, in two passes instead of five.
        """
        bounds = self._pictures.get(image.shape[1])
        if bounds is None:
            bounds = self._pictures[image.shape[1]] = self._belt_bounds(image.shape[1])
        return cv2.bitwise_not(cv2.inRange(image, bounds[0], bounds[1]))

    def occupied(self, image: np.ndarray) -> bool:
        """Whether anything part-sized differs from the belt in `image` (no labelling)."""
        if self._belt is None or self._belt.shape[0] != image.shape[0]:
            return False
        fg = cv2.morphologyEx(self._differs(image), cv2.MORPH_OPEN, _SQUARE)
        return cv2.countNonZero(fg) >= self.min_area

    def _belt_bounds(self, width: int) -> tuple[np.ndarray, np.ndarray]:
        """The belt model as images of `width` columns, minus and plus the contrast."""
        assert self._belt is not None
        # |difference| > contrast on integer levels is |difference| >= floor(contrast) + 1
        level = int(np.floor(self.contrast))
        belt = np.clip(self._belt, 0, 255).astype(np.uint8)  # (rows, 3): one channel to cv2
        # saturating, as the comparison was (the stubs do not know scalar operands)
        low = cv2.subtract(belt, level)[:, None, :]  # type: ignore[call-overload]
        high = cv2.add(belt, level)[:, None, :]  # type: ignore[call-overload]
        # a nearest-neighbour stretch: several times cheaper than numpy broadcasting
        size = (width, low.shape[0])
        return (
            cv2.resize(low, size, interpolation=cv2.INTER_NEAREST),
            cv2.resize(high, size, interpolation=cv2.INTER_NEAREST),
        )
