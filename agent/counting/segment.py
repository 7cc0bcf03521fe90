"""Parts against the belt: difference from the belt as it should look, then split touching parts.

The belt is modelled as one colour per row across the flow (a belt's colour varies
across it with the light, hardly along it, and its texture moves), or, on a belt whose
pattern (cleats, perforations, links) would pass for parts, as one repeat of that
pattern in belt coordinates (a *tile*), placed each frame by the belt's travel (which
the flow measures) and matched to the work pixel. Each frame:

1. the largest per-channel difference from the belt as it should look, thresholded
   at `contrast` grey levels (on a patterned belt, from its bin's colour or a
   neighbour's, and gaps of a pixel or two closed: a part's pixels that look like the
   pattern cut its outline);
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
pixel; on a patterned belt, no column with a part), so a part standing still in view
is never learnt into the belt. A pattern is looked for in the first frames
(`belt_repeat`), tried, and adopted once the belt brings a new repeat of it into view
where it should be (`_confirm_pattern`): parts at a steady pitch are not a pattern.
"""

from __future__ import annotations

import logging
from collections import deque

import cv2
import numpy as np

from agent.counting import Blob

logger = logging.getLogger(__name__)

_SQUARE = np.ones((3, 3), np.uint8)
_CLOSE = np.ones((5, 5), np.uint8)
#: Looks for a belt pattern after the belt model starts (one per learning frame).
_LOOKS = 10
#: The most of a belt pattern's standing-out pixels that may be unlike one repeat on.
_UNLIKE = 0.1
#: The least share of a new repeat's pattern pixels found where the pattern says
#: for it to be adopted (a part in the way only delays it to a later look).
_AGREE = 0.9
#: New repeats a pattern in trial may fail to match before it is given up.
_TRIALS = 3


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
        self._last_travel = 0.0
        #: The belt as it looks over one repeat of its pattern, in belt coordinates:
        #: (rows, bins, 3) float32; one bin when it shows no pattern worth modelling.
        self._tile: np.ndarray | None = None
        self._repeat = 0.0  # the pattern's repeat in work pixels (0: none)
        self._travel = 0.0  # how far the belt moved since the tile's origin (work pixels)
        self._looks = 0
        #: A pattern seen in one image, in use until confirmed: (repeat, travel then,
        #: the plain belt model to go back to)
        self._candidate: tuple[float, float, np.ndarray] | None = None
        self._failed = 0  # new repeats that did not confirm it
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
        self._tile = None
        self._pictures.clear()
        self._frames = 0

    @property
    def belt(self) -> np.ndarray | None:
        """The belt's colour per row across the flow (BGR float), once learnt."""
        if self._tile is None:
            return None
        return self._tile[:, 0] if self._tile.shape[1] == 1 else self._tile.mean(axis=1)

    @property
    def repeat(self) -> float:
        """The belt pattern's repeat along the flow (work pixels), 0 when not modelled."""
        return self._repeat

    def segment(
        self, image: np.ndarray, at: int = 0, travel: float = 0.0
    ) -> tuple[np.ndarray, list[Blob]]:
        """Label the parts in one canonical work image (rows across, columns along).

        Args:
            image: The work image, or a window of it along the flow.
            at: The window's first column in the whole work image.
            travel: How far the belt moved since the previous call (work pixels), as
                the flow measured it.

        Returns:
            An int32 label image (0 = belt) and the blobs, ordered along the flow.
        """
        if self._tile is None or self._tile.shape[0] != image.shape[0]:
            self._start(image)
        self._travel += travel
        self._last_travel = travel
        if self._candidate is not None:
            self._confirm_pattern(image, at)
        elif not self._repeat and self._looks < _LOOKS and self._frames % self.learn_every == 0:
            self._look_for_pattern(image, at)
        # (a pattern not yet confirmed goes where the flow says: matching it would
        # let it follow parts at a steady pitch)
        bins = self._bins(image, at, match=self._candidate is None)
        if self._candidate is None:
            raw = self._differs(image, bins)
        else:  # the belt as before, less what the pattern in trial explains
            plain = self._candidate[2]
            bounds = self._belt_bounds(image.shape[1], plain)
            raw = cv2.bitwise_not(cv2.inRange(image, bounds[0], bounds[1]))
        # fill holes first (a 3x3 opening would cut a washer's ring at its bolt holes)
        if bins is not None:
            # a part's pixels that look like the pattern (a washer over a cleat) cut
            # its outline: gaps of a pixel or two, closed before holes are filled
            raw = cv2.morphologyEx(raw, cv2.MORPH_CLOSE, _CLOSE)
        holes_filled = np.zeros_like(raw)
        contours, _ = cv2.findContours(raw, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if contours:
            cv2.drawContours(holes_filled, contours, -1, 1, thickness=cv2.FILLED)
        filled = cv2.morphologyEx(holes_filled, cv2.MORPH_OPEN, _SQUARE)
        if self._candidate is not None:
            filled = self._unexplained(filled, self._differs(image, bins))
        self._frames += 1
        if self._frames % self.learn_every == 0:
            self._learn(image, filled, bins)
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

    def _start(self, image: np.ndarray) -> None:
        """A first belt model from one image: a colour per row, no pattern yet."""
        self._tile = np.median(image, axis=1).astype(np.float32)[:, None, :]
        self._repeat = 0.0
        self._travel = 0.0
        self._looks = 0
        self._candidate = None
        self._pictures.clear()

    def _look_for_pattern(self, image: np.ndarray, at: int) -> None:
        """Note a belt pattern when an image shows one (see `belt_repeat`).

        One repeat of it is kept, each phase as the repeat in view that stands out
        least from the row colour (the pattern stands out in every repeat, a part
        only in some), to be confirmed by `_confirm_pattern`.
        """
        self._looks += 1
        repeat = belt_repeat(_deviations(image, self.contrast), self.contrast, self.min_area)
        if not repeat:
            return
        n = max(1, round(repeat))
        self._repeat = repeat  # in use until `_confirm_pattern` says otherwise
        bins = self._phase_bins(np.arange(at, at + image.shape[1]), n)
        assert self._tile is not None
        rows = np.arange(image.shape[0])
        tile = np.repeat(self._tile, n, axis=1)
        standing = np.abs(image.astype(np.float32) - self._tile).max(axis=2)
        for b in range(n):
            columns = np.flatnonzero(bins == b)
            if columns.size:
                least = columns[np.argmin(standing[:, columns], axis=1)]
                tile[:, b] = image[rows, least]
        self._candidate = (repeat, self._travel, self._tile)
        self._failed = 0
        self._tile = tile
        self._pictures.clear()

    @staticmethod
    def _unexplained(filled: np.ndarray, differs: np.ndarray) -> np.ndarray:
        """The pieces of `filled` of which a tenth or more `differs` from the pattern.

        While a pattern is in trial, a piece it explains (a cleat, a hole) is no part,
        but one it explains only where it happens to lie on the pattern is.
        """
        count, labels = cv2.connectedComponents(filled, connectivity=8)
        if count < 2:
            return filled
        areas = np.bincount(labels.ravel(), minlength=count)
        unlike = np.bincount(labels[(differs > 0) & (filled > 0)], minlength=count)
        keep = unlike >= 0.1 * areas
        keep[0] = False
        return keep[labels].view(np.uint8)

    def _confirm_pattern(self, image: np.ndarray, at: int) -> None:
        """Adopt the pattern noted once the belt has brought a new repeat of it into view.

        One image cannot tell a belt's pattern from parts at a steady pitch; but the
        belt brings its pattern in again at the phase it travelled to, while the next
        part comes where its own pitch puts it. Adopted when most (`_AGREE`) of the
        pattern's standing-out pixels in the newly come belt are where the pattern
        says; given up when `_TRIALS` new repeats in a row were not (one may have had
        a part in the way).
        """
        assert self._candidate is not None and self._tile is not None
        repeat, then, plain = self._candidate
        new = int(self._travel - then) - at  # window columns that came into view since
        if abs(self._travel - then) > 4 * image.shape[1]:  # (a belt running backwards)
            self._candidate = None
            self._repeat, self._tile = 0.0, plain
            self._pictures.clear()
            return
        if new < min(repeat, image.shape[1]):
            return
        tile = self._tile
        bins = self._bins(image, at)
        assert bins is not None
        new = min(new, image.shape[1])
        pattern = (np.abs(tile - plain).max(axis=2) >= self.contrast)[:, bins[:new]]
        differs = self._differs(image[:, :new], bins[:new]) > 0
        agree = int(np.count_nonzero(pattern & ~differs)) / max(1, int(np.count_nonzero(pattern)))
        self._candidate = None
        logger.debug(
            "pattern trial: %d new columns, %d pattern pixels, %.2f agree (repeat %.1f)",
            new,
            np.count_nonzero(pattern),
            agree,
            repeat,
        )
        if agree >= _AGREE:
            logger.info("belt pattern: repeats every %.1f work pixels", repeat)
            return
        self._failed += 1
        if self._failed < _TRIALS:  # a part in the way? the next repeat will tell
            self._candidate = (repeat, self._travel, plain)
            return
        self._repeat, self._tile = 0.0, plain
        self._pictures.clear()

    def _phase_bins(self, columns: np.ndarray, n: int) -> np.ndarray:
        """Which of the tile's `n` bins each work column shows, the belt having travelled."""
        phase = np.mod(columns - self._travel, self._repeat)
        return np.minimum((phase * (n / self._repeat)).astype(np.intp), n - 1)

    def _bins(self, image: np.ndarray, at: int, match: bool = True) -> np.ndarray | None:
        """The tile bin of every column of `image`, after matching the belt's phase.

        The flow's travel predicts where the pattern is; it drifts (the flow reads a
        median speed, counting skips frames), so the phase is set to the shift, among
        those a little either side of the prediction, whose tile profile (the mean
        across the flow) correlates best with the image's. None on a plain belt.
        """
        if not self._repeat:
            return None
        assert self._tile is not None
        n = self._tile.shape[1]
        columns = np.arange(at, at + image.shape[1])
        if not match:
            return self._phase_bins(columns, n)
        profile = image.mean(axis=(0, 2), dtype=np.float32)
        profile -= profile.mean()
        tile_profile = self._tile.mean(axis=(0, 2))
        reach = min(int(self._repeat // 2), 2 + int(0.2 * abs(self._last_travel)))
        best, best_score = 0, -np.inf
        for shift in range(-reach, reach + 1):
            self._travel += shift
            seen = tile_profile[self._phase_bins(columns, n)]
            self._travel -= shift
            seen = seen - seen.mean()
            score = float(profile @ seen) / (float(np.linalg.norm(seen)) + 1e-6)
            if score > best_score + 1e-6 or (score >= best_score - 1e-6 and abs(shift) < abs(best)):
                best, best_score = shift, score
        self._travel += best
        return self._phase_bins(columns, n)

    def _learn(self, image: np.ndarray, filled: np.ndarray, bins: np.ndarray | None) -> None:
        assert self._tile is not None
        # 1 on belt pixels: not a part, nor next to one
        _, belt_px = cv2.threshold(cv2.dilate(filled, _SQUARE), 0, 1, cv2.THRESH_BINARY_INV)
        if bins is None:
            masked = cv2.bitwise_and(image, image, mask=belt_px)
            sums = cv2.reduce(masked, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).reshape(-1, 1, 3)
            counts = cv2.reduce(belt_px, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).reshape(-1, 1)
            usable = counts >= max(4, image.shape[1] // 4)
        else:
            # per bin of the tile: the belt pixels of the columns showing it
            n = self._tile.shape[1]
            onehot = np.zeros((image.shape[1], n), np.float32)
            onehot[np.arange(image.shape[1]), bins] = 1.0
            # nor in a column with a part (its pixels on the pattern look like the
            # pattern: learnt, the part would fade into it); other repeats show these
            with_part = np.asarray(filled.any(axis=0), np.uint8)[None, :]
            near = cv2.dilate(with_part, np.ones((1, 5), np.uint8))
            mask = belt_px.astype(np.float32) * (near == 0)
            sums = np.einsum("rwc,rw,wn->rnc", image.astype(np.float32), mask, onehot)
            counts = mask @ onehot
            # what differs at a phase in every one of 3 or more repeats in view is the
            # belt (parts do not repeat with it): learnt from all its pixels
            repeated = (counts == 0) & (onehot.sum(axis=0) >= 3)
            for b in np.flatnonzero(repeated.any(axis=0)).tolist():
                rows = repeated[:, b]
                sums[rows, b] = np.median(image[rows][:, bins == b], axis=1)
                counts[rows, b] = 1
            usable = counts >= 1
        if not usable.any():
            return
        mean = sums / np.maximum(counts, 1)[..., None]
        step = self.learn_rate * (mean - self._tile)
        self._tile += np.where(usable[..., None], step, 0.0).astype(np.float32)
        self._pictures.clear()

    def _differs(self, image: np.ndarray, bins: np.ndarray | None = None) -> np.ndarray:
        """Non-zero where a pixel differs from the belt as it should look by more than `contrast`.

        One `inRange` against the belt picture +- the contrast (a pixel is belt when
        every channel is within it), inverted: the same as thresholding the largest
        channel difference, in two passes instead of five. On a patterned belt, a
        pixel is belt when it is so for its phase's bin or a neighbour's (the phase
        is matched to a work pixel only, and the pattern's edges blur); not for any
        colour between them: a part on a cleat is neither cleat nor shadow.
        """
        if bins is None:
            bounds = self._pictures.get(image.shape[1])
            if bounds is None:
                bounds = self._pictures[image.shape[1]] = self._belt_bounds(image.shape[1])
            return cv2.bitwise_not(cv2.inRange(image, bounds[0], bounds[1]))
        low, high = self._tile_bounds()
        n = low.shape[1]
        belt = cv2.inRange(image, low[:, bins], high[:, bins])
        for k in (-1, 1):
            near = (bins + k) % n
            belt = cv2.bitwise_or(belt, cv2.inRange(image, low[:, near], high[:, near]))
        return cv2.bitwise_not(belt)

    def occupied(self, image: np.ndarray) -> bool:
        """Whether anything part-sized differs from the belt in `image` (no labelling)."""
        fg = self._foreground(image)
        return fg is not None and cv2.countNonZero(fg) >= self.min_area

    def _foreground(self, image: np.ndarray) -> np.ndarray | None:
        if self._tile is None or self._tile.shape[0] != image.shape[0]:
            return None
        bins = (
            None
            if not self._repeat
            else self._phase_bins(np.arange(image.shape[1]), self._tile.shape[1])
        )
        return cv2.morphologyEx(self._differs(image, bins), cv2.MORPH_OPEN, _SQUARE)

    def foreground(self, image: np.ndarray) -> np.ndarray | None:
        """What differs from the belt in a whole work image, holes filled (uint8, 0 belt).

        None before the belt is learnt. For describing a stop's scene (`agent.causes`),
        not for counting: nothing is labelled, split or learnt.
        """
        fg = self._foreground(image)
        if fg is None:
            return None
        filled = np.zeros_like(fg)
        contours, _ = cv2.findContours(fg, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if contours:
            cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
        return filled

    def _tile_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The patterned belt's tile, minus and plus the contrast (uint8)."""
        cached = self._pictures.get(-1)
        if cached is not None:
            return cached
        assert self._tile is not None
        level = int(np.floor(self.contrast))
        low = np.clip(self._tile - level, 0, 255).astype(np.uint8)
        high = np.clip(self._tile + level, 0, 255).astype(np.uint8)
        self._pictures[-1] = (low, high)
        return low, high

    def _belt_bounds(
        self, width: int, plain: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """A plain belt model (default: this one) as images of `width` columns, +- the contrast."""
        tile = self._tile if plain is None else plain
        assert tile is not None
        # |difference| > contrast on integer levels is |difference| >= floor(contrast) + 1
        level = int(np.floor(self.contrast))
        belt = np.clip(tile[:, 0], 0, 255).astype(np.uint8)  # (rows, 3): one channel
        # saturating, as the comparison was (the stubs do not know scalar operands)
        low = cv2.subtract(belt, level)[:, None, :]  # type: ignore[call-overload]
        high = cv2.add(belt, level)[:, None, :]  # type: ignore[call-overload]
        # a nearest-neighbour stretch: several times cheaper than numpy broadcasting
        size = (width, low.shape[0])
        return (
            cv2.resize(low, size, interpolation=cv2.INTER_NEAREST),
            cv2.resize(high, size, interpolation=cv2.INTER_NEAREST),
        )


def _deviations(image: np.ndarray, contrast: float) -> np.ndarray:
    """Grey levels less their row's median, clipped at twice `contrast` (float32).

    Rows' medians removed: the light's fall-off across the belt is not a pattern;
    clipped: a part in view hardly weighs.
    """
    grey = image.astype(np.float32).mean(axis=2)
    grey -= np.median(grey, axis=1, keepdims=True)
    return np.clip(grey, -2 * contrast, 2 * contrast, out=grey)


def belt_repeat(deviations: np.ndarray, contrast: float, min_area: int) -> float:
    """The repeat along the flow of a pattern that would pass for parts, or 0.

    The autocorrelation along the flow of the image's `_deviations` over lags of 3
    to half its length: the shortest lag that matches about as well as the best is
    the repeat (a pattern matches itself at every multiple of it). No lag matching
    well (0.5), or nothing standing `contrast` from its row's colour in every repeat
    in view at some phase (a part is in one only), and there is no such pattern.
    """
    grey = deviations
    along = grey.shape[1]
    lags = range(3, along // 2 + 1)
    if not lags:
        return 0.0
    # every lag's products at once (an FFT), each over the overlap's own energies
    spectrum = np.fft.rfft(grey, n=2 * along, axis=1)
    products = np.fft.irfft(spectrum * np.conj(spectrum), n=2 * along, axis=1).sum(axis=0)
    energy = np.concatenate(([0.0], np.cumsum(np.square(grey).sum(axis=0))))
    k = np.arange(lags.start, lags.stop)
    norm = np.sqrt((energy[along] - energy[k]) * energy[along - k]) + 1e-6
    scores = (products[k] / norm).tolist()
    top = max(scores)
    if top < 0.5:
        return 0.0
    i = next(
        i
        for i, r in enumerate(scores)
        if r >= top - 0.1 and (i + 1 == len(scores) or r >= scores[i + 1])
    )
    repeat = float(lags[i])
    if 0 < i < len(scores) - 1:
        left, mid, right = scores[i - 1 : i + 2]
        curvature = left - 2 * mid + right
        if curvature < 0:
            repeat += 0.5 * (left - right) / curvature
    # what stands out must be alike one repeat on (a belt's pattern is, parts seldom:
    # they vary in pitch, turn and size), give or take a column (the repeat is not whole)
    out = np.abs(grey) >= contrast
    start = int(repeat) - 1
    if not out.any() or start + 3 >= along:
        return 0.0
    width = along - start - 3
    unlike = np.min(
        [np.abs(grey[:, :width] - grey[:, start + s : start + s + width]) for s in range(4)],
        axis=0,
    )
    stands = out[:, :width]
    if not stands.any() or float(np.mean(unlike[stands] > contrast)) > _UNLIKE:
        return 0.0
    # only a pattern that would pass for a part needs modelling
    if np.count_nonzero(stands) * repeat / width < min_area:
        return 0.0
    return repeat
