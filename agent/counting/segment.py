"""Parts against the belt: difference from a per-row belt colour, then split touching parts.

The belt is modelled as one colour per row across the flow (a belt's colour varies
across it with the light, hardly along it, and its texture moves). Each frame:

1. the largest per-channel difference from the belt row colour, thresholded at
   `contrast` grey levels;
2. holes inside parts filled (bolt holes show the belt), then a 3x3 opening removes
   noise, seams and dust;
3. touching parts split, only in a piece half as big again as a small piece seen lately
   (the costly step, and the usual frame has nothing to split): at the cores of its
   distance transform (`_cores`), every pixel to its nearest core; then, when single
   parts are alike, any part still holding two single parts' area or more is cut
   across the flow by that area (`_cut_by_size`): a guess, marked on the blob;
4. pieces smaller than `min_area` work pixels dropped; blobs split from a piece are
   marked touching.

The single part's area is learnt from parts counted on their own (`learn_part`, which
the counter calls once per part).

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
        alike_spread: float = 1.6,
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
        self.alike_spread = alike_spread
        self._reference: float | None = None
        self._typical: float | None = None
        self._parts: deque[int] = deque(maxlen=50)
        self._single: float | None = None
        self._alike = False
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
        """Labels and blobs, with merged touching parts split (see `_split`)."""
        count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
            filled, 8, cv2.CV_32S, cv2.CCL_BBDT
        )
        rows = stats.tolist()  # a handful of pieces: plain lists from here on
        along = filled.shape[1]
        # (label, x, y, w, h, area, touching, guessed)
        pieces: list[tuple[int, int, int, int, int, int, bool, bool]] = []
        next_label = count
        for i in range(1, count):
            x, y, w, h, area = rows[i]
            if area < self.min_area or area < self._split_from:
                pieces.append((i, x, y, w, h, area, False, False))
                continue
            parts = self._split(labels[y : y + h, x : x + w] == i, x, along)
            if len(parts) == 1:
                pieces.append((i, x, y, w, h, area, False, parts[0][1]))
                continue
            window = labels[y : y + h, x : x + w]
            window[window == i] = 0  # pixels no part keeps (the cuts) are belt
            for mask, guessed in parts:
                window[mask] = next_label
                px, py, pw, ph = cv2.boundingRect(mask.view(np.uint8))
                area_part = int(np.count_nonzero(mask))
                pieces.append((next_label, x + px, y + py, pw, ph, area_part, True, guessed))
                next_label += 1
        blobs = [
            Blob(label, x + w / 2.0, y + h / 2.0, (x, y, x + w, y + h), area, split, guessed)
            for label, x, y, w, h, area, split, guessed in pieces
            if area >= self.min_area
        ]
        self._learn_size(blobs, along)
        blobs.sort(key=lambda b: b.x)
        return labels, blobs

    @property
    def _split_from(self) -> float:
        """Pieces at least this big may be touching parts (every piece until sizes are known)."""
        return 0.0 if self._reference is None else 1.5 * self._reference

    def _learn_size(self, blobs: list[Blob], along: int) -> None:
        """Follow the size of whole pieces lately: the reference for splitting.

        The reference is a low quantile of the areas of whole pieces in recent frames
        (a small single part: a piece half as big again may be two); their median caps
        how many cores a piece may split into before single parts are known.
        """
        self._areas.extend(
            b.area for b in blobs if not b.touching and b.box[0] > 0 and b.box[2] < along
        )
        self._checks += 1
        if len(self._areas) < 20:
            return
        if self._reference is None or self._checks % 10 == 0:
            q20, q50 = np.percentile(self._areas, (20, 50))
            self._reference, self._typical = float(q20), float(q50)

    @property
    def single_area(self) -> float | None:
        """The single part's area (work pixels) once 8 parts were seen alone, else None."""
        return self._single

    def learn_part(self, area: int) -> None:
        """A single part seen on its own (once per part, when counted): its area.

        The single part's area is the median of the last 50; their spread (90th over
        10th percentile) says whether parts are alike enough for an area to tell how
        many a merged piece holds (one product at a time), from 8 parts on.
        """
        self._parts.append(area)
        if len(self._parts) >= 8:
            q10, q50, q90 = np.percentile(self._parts, (10, 50, 90))
            self._single = float(q50)
            self._alike = bool(q90 <= self.alike_spread * q10)

    def _split(self, mask: np.ndarray, x0: int, along: int) -> list[tuple[np.ndarray, bool]]:
        """Split one piece (its mask inside its box) into parts; each with whether it is a guess.

        First by its outline: the cores of the distance transform (see `_cores`), each
        pixel to its nearest core. Then any part still as big as two single parts (when
        parts are alike) is cut across the flow by its area (see `_cut_by_size`): a guess.
        """
        cores = self._cores(mask)
        parts = [mask] if cores is None else self._nearest(mask, cores)
        out: list[tuple[np.ndarray, bool]] = []
        for part in parts:
            holds = self._holds(part)
            if holds < 2:
                out.append((part, False))
                continue
            out += [(p, True) for p in self._cut_by_size(part, holds, x0, along)]
        return out

    def _holds(self, mask: np.ndarray) -> int:
        """How many single parts a piece's area holds; 1 until parts are known to be alike."""
        if self._single is None or not self._alike:
            return 1
        return int(round(np.count_nonzero(mask) / self._single))

    def _cores(self, mask: np.ndarray) -> np.ndarray | None:
        """Parts' cores: where the distance to the piece's outline is largest, apart.

        Raising a level over the distance transform, a piece of touching parts splits
        at its necks into one core per part before the cores vanish. A core counts only
        if it stands a pixel above the level (a real peak, not a sliver of a flat ridge
        such as a thin arm's) and has `seed_area` pixels. When the area tells how many
        parts the piece holds (parts alike), the lowest level giving that many cores
        wins, else the one giving the most up to that many; when it cannot tell, the
        lowest level giving the most cores (at most two per single part's area).

        Returns:
            The core labels (0 elsewhere), or None when the outline shows one part.
        """
        # a belt border around it: a piece filling its box has an outline there too
        image = cv2.copyMakeBorder(mask.view(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
        distance = cv2.distanceTransform(image, cv2.DIST_L2, 3)[1:-1, 1:-1]
        top = float(distance.max())
        holds = self._holds(mask)
        if holds >= 2:
            most = holds
        elif self._single is not None and self._alike:
            most = 2  # the outline may still show two small parts
        elif self._typical is not None:
            most = max(2, int(2 * np.count_nonzero(mask) / self._typical))
        else:
            most = 10**6
        best: np.ndarray | None = None
        best_n = 1
        level = 1.0
        while level + 1.0 <= top and best_n < most:
            n, labels, stats, _ = cv2.connectedComponentsWithStats(
                (distance > level).view(np.uint8), connectivity=4
            )
            if n > 2:
                peaks = np.zeros(n, bool)
                peaks[labels[distance > level + 1.0]] = True
                peaks &= stats[:, cv2.CC_STAT_AREA] >= self._seed_area
                peaks[0] = False
                found = int(peaks.sum())
                if best_n < found <= most:
                    best_n = found
                    best = np.where(peaks[labels], labels, 0)
            level += 1.0
        return best

    @staticmethod
    def _nearest(mask: np.ndarray, cores: np.ndarray) -> list[np.ndarray]:
        """Give every pixel of the piece to its nearest core; cut between neighbouring cores."""
        _, nearest = cv2.distanceTransformWithLabels(
            (cores == 0).view(np.uint8), cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_CCOMP
        )
        owner = np.where(mask, nearest, 0)
        boundary = np.zeros(mask.shape, bool)
        boundary[:, 1:] |= owner[:, 1:] != owner[:, :-1]
        boundary[1:, :] |= owner[1:, :] != owner[:-1, :]
        owner[boundary] = 0
        return [owner == k for k in np.unique(owner) if k]

    def _cut_by_size(self, mask: np.ndarray, holds: int, x0: int, along: int) -> list[np.ndarray]:
        """Cut a piece that holds `holds` single parts into that many, across the flow.

        A queue lines up along the flow, so the cuts are columns: where the piece's
        area from one end reaches whole single parts (from the end that is inside the
        window: the other may be a part still coming in or going out; equal shares when
        both or neither are), each moved to the narrowest column nearby (a neck, if any).
        """
        assert self._single is not None
        columns = np.count_nonzero(mask, axis=0)
        total = float(columns.sum())
        cumulative = np.cumsum(columns)
        behind_cut = x0 <= 0  # its back is at the window's upstream edge
        ahead_cut = x0 + mask.shape[1] >= along
        steps = range(1, holds)
        if behind_cut and not ahead_cut:
            targets = [total - k * self._single for k in steps]
        elif ahead_cut and not behind_cut:
            targets = [k * self._single for k in steps]
        else:
            targets = [k * total / holds for k in steps]
        reach = max(1, round(0.25 * mask.shape[1] / holds))
        cuts = [0]
        for target in sorted(targets):
            at = int(np.searchsorted(cumulative, target))
            lo, hi = max(cuts[-1] + 1, at - reach), min(mask.shape[1] - 1, at + reach + 1)
            if lo >= hi:
                continue
            cuts.append(lo + int(np.argmin(columns[lo:hi])))
        cuts.append(mask.shape[1])
        parts = []
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            part = np.zeros_like(mask)
            part[:, a:b] = mask[:, a:b]
            if part.any():
                parts.append(part)
        return parts

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
