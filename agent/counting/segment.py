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

The belt model starts from each row's most common colour in the first image (parts
may crowd a row past half of it: `_row_mode`), then learns from the pixels that are
not parts (parts grown by one pixel; on a patterned belt by three, and pixels that
look like the pattern's part reaching across and along the belt are belt even on a
part: `_learn_tile`), so a part standing still in view is never learnt into the belt.
A pattern is looked for in the first frames (`belt_repeat`; in rows parts crowded
in that image, the plain model's colour but for the pattern's own bins:
`_without_crowded_rows`), tried (a piece the pattern in trial explains, or what its
bars across the belt explain of a piece, is no part: `_unexplained`), and adopted once the belt
brings a new repeat of it into view where it should be (`_confirm_pattern`): parts
at a steady pitch are not a pattern.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from agent.counting import Blob
from agent.counting.quantile import median, percentiles
from agent.masks import fill_holes

logger = logging.getLogger(__name__)

_SQUARE = np.ones((3, 3), np.uint8)
_CLOSE = np.ones((5, 5), np.uint8)
#: Looks for a belt pattern after the belt model starts (one per learning frame).
_LOOKS = 10
#: The most of a belt pattern's standing-out pixels that may be unlike one repeat on.
_UNLIKE = 0.1
#: The least share of the belt's width a pattern folded with parts in view must reach across.
_ACROSS = 0.75
#: The least share of a new repeat's pattern pixels found where the pattern says
#: for it to be adopted (a part in the way only delays it to a later look).
_AGREE = 0.9
#: New repeats a pattern in trial may fail to match before it is given up.
_TRIALS = 3
#: The least autocorrelation at a lag for it to be a belt pattern's repeat (parts in
#: view lower it: they seldom repeat with it).
_MATCH = 0.35
#: Repeats of a pattern in view under which its fold must reach across the belt
#: (`_foldable`): the fold's median takes a part out of a bin only where the bin holds
#: three repeats, and with 2.5 in view most bins do.
_REPEATS_IN_VIEW = 2.5
#: Learning frames between two looks for rows a ghost of parts took over in a patterned
#: belt's tile (`_learn_tile`; every 2 s at 15 analysed frames a second).
_GHOST_EVERY = 10
#: More than this share of an image differing from the belt is no crowd of parts but
#: a change of light, if scaling the belt model by the scene's gain explains it.
_RELIT = 0.5
#: Pixels this close to a part (3 work pixels: its blur and shadow) are not learnt as belt.
_NEAR_PART = np.ones((7, 7), np.uint8)
#: Sightings after which a phase of the pattern is as `picture` will know it: its first
#: ones (a part's blur the segmentation missed, a phase matched poorly at first) then
#: weigh under 1 % (at `learn_rate` 0.5, 0.5 ** 7). Until most phases have been seen so
#: often, the picture is young (`young`).
_SIGHTINGS = 8
#: The share of the pattern's (row, phase)s seen `_SIGHTINGS` times for it to be grown up.
_GROWN = 0.9
#: Learning frames after which the picture is grown up all the same: a phase not seen
#: `_SIGHTINGS` times in four times the frames that takes is one parts keep hidden
#: (parts at the pattern's pitch), and waiting longer would not show it.
_GROWN_BY = 4 * _SIGHTINGS


@dataclass(frozen=True, slots=True)
class BeltMoment:
    """Where the belt was in a frame, to place its pattern there later (`picture_then`).

    For a view cut before the belt's kind was known, or while its picture was `young`:
    the travel the flow measured then, matched again to the adopted pattern by the
    window's profile (the flow drifts, and before adoption no pattern was matched).
    """

    model: int  # which belt model (a new one after `reset` knows nothing of this)
    travel: float  # the belt's travel then (work pixels, as `_travel`)
    at: int  # the window's first column in the work image
    profile: np.ndarray  # the window's mean colour per column, less its mean (float32)


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
        #: This model's bounds as `_belt_bounds` made them last: (belt, low, high).
        self._bounds: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        #: The pattern as seen where no part was (see `_see_belt`): (rows, bins, 3),
        #: NaN where not seen yet; None without an adopted pattern.
        self._seen: np.ndarray | None = None
        #: How often each (row, bin) of `_seen` was seen free of parts (int32), in how
        #: many learning frames.
        self._sightings: np.ndarray | None = None
        self._seen_frames = 0
        self._frames = 0
        self._model = 0  # counts belt models (`_start`), for `BeltMoment`
        #: The window `segment` last saw and its first column (for `moment`).
        self._window: tuple[np.ndarray, int] | None = None
        self._moment: BeltMoment | None = None
        self._areas: deque[int] = deque(maxlen=200)
        self.alike_spread = alike_spread
        self._reference: float | None = None
        self._typical: float | None = None
        self._parts: deque[int] = deque(maxlen=50)
        self._single: float | None = None
        self._alike = False
        self._checks = 0
        self._tile_learnt = 0  # `_learn_tile` calls (for `_GHOST_EVERY`)

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

    def picture(self, start: int, stop: int) -> np.ndarray | None:
        """The belt's pattern as it lies now under work columns `start:stop` (float32 BGR).

        All rows across the flow, at the phase the last `segment` matched, as seen
        with no part on it (`_see_belt`); where no part left it free yet, the belt
        model's part that reaches across and along the belt (`_across_and_along`).
        None on a belt with no adopted pattern (a plain belt, or one in trial): there
        the crop's own border tells the belt well enough. For telling a part from the
        belt in its crop (`agent.inspection.register`).
        """
        return self._picture(start, stop, self._travel)

    def moment(self) -> BeltMoment:
        """Where the belt is in the frame `segment` last saw (see `BeltMoment`)."""
        assert self._window is not None, "segment a frame first"
        if self._moment is None:
            image, at = self._window
            self._moment = BeltMoment(self._model, self._travel, at, _profile(image))
        return self._moment

    @property
    def model(self) -> int:
        """Which belt model this is (a new one after each `reset`), for `BeltMoment`."""
        return self._model

    def knows(self, moment: BeltMoment) -> bool:
        """Whether the belt's kind is known now for a frame seen at `moment` (same model)."""
        return self.settled and moment.model == self._model

    def picture_then(self, start: int, stop: int, moment: BeltMoment) -> np.ndarray | None:
        """`picture` as the belt lay at `moment`, once `knows` it (None on a plain belt).

        The phase the flow's travel then gives, matched to the adopted pattern by the
        window's profile then (a little either side, the whole repeat if that matches
        poorly), as `_bins` matches each frame's.
        """
        if not self.knows(moment) or not self._repeat:
            return None
        return self._picture(start, stop, self._travel_at(moment))

    @property
    def young(self) -> bool:
        """Whether `picture` has a pattern whose phases are not seen often yet (`_SIGHTINGS`)."""
        if not self.settled or not self._repeat or self._sightings is None:
            return False
        if self._seen_frames >= _GROWN_BY:
            return False
        return float(np.mean(self._sightings >= _SIGHTINGS)) < _GROWN

    def seen_enough(self, start: int, stop: int, rows: tuple[int, int], moment: BeltMoment) -> bool:
        """Whether `picture_then` of work columns `start:stop`, `rows`, is as good as it gets.

        Once every (row, phase) it reads was seen `_SIGHTINGS` times, or the picture
        is no longer `young` (a phase parts keep hidden is never seen more). False
        until the segmenter `knows` the belt at `moment`.
        """
        if not self.knows(moment):
            return False
        if not self.young:
            return True
        assert self._sightings is not None
        n = self._sightings.shape[1]
        phase = self._phase(np.arange(start, stop), n, self._travel_at(moment))
        first = np.floor(phase - 0.5).astype(np.intp)  # the bins `_between` reads
        bins = np.unique(np.concatenate([first % n, (first + 1) % n]))
        return bool(self._sightings[rows[0] : rows[1], bins].min(initial=_SIGHTINGS) >= _SIGHTINGS)

    def _travel_at(self, moment: BeltMoment) -> float:
        """The belt's travel at `moment`, matched to the adopted pattern (see `picture_then`)."""
        columns = np.arange(moment.at, moment.at + moment.profile.size)
        return moment.travel + self._match(moment.profile, columns, 4, moment.travel)

    def _picture(self, start: int, stop: int, travel: float) -> np.ndarray | None:
        """`picture` with the belt having travelled `travel`."""
        if self._seen is None or self._tile is None or self._seen.shape != self._tile.shape:
            return None
        phase = self._phase(np.arange(start, stop), self._seen.shape[1], travel)
        # a phase never seen free of parts (parts at the pattern's pitch, at the same
        # rows): the belt model's part that reaches across and along the belt there
        seen = np.where(np.isnan(self._seen), _across_and_along(self._tile), self._seen)
        return np.asarray(_between(seen, phase), np.float32)

    def _see_belt(self, image: np.ndarray, filled: np.ndarray, phase: np.ndarray | None) -> None:
        """Follow the pattern from the pixels no part is on or next to, for `picture`.

        Stricter than the belt model, which must fill every bin to segment and so
        starts from the first frame's fold (see `_learn_tile`): what lingers of a part
        there, which counting shrugs off, would cut a part's outline. Per pixel, not
        per column: parts at the pattern's pitch keep a phase hidden on their rows
        only.
        """
        if phase is None or self._candidate is not None or self._tile is None:
            self._seen = self._sightings = None
            return
        if self._seen is None or self._seen.shape != self._tile.shape:
            self._seen = np.full(self._tile.shape, np.nan, np.float32)
            self._sightings = np.zeros(self._tile.shape[:2], np.int32)
            self._seen_frames = 0
        n = self._seen.shape[1]
        bins = _whole(phase, n)
        onehot = np.zeros((bins.size, n), np.float32)
        onehot[np.arange(bins.size), bins] = 1.0
        # a pixel within 3 of a part (its blur and shadow) shows no belt
        free = (cv2.dilate(filled, _NEAR_PART) == 0).astype(np.float32)
        counts = free @ onehot  # (rows, bins)
        means = _binned(image.astype(np.float32), free, onehot)
        shown = counts > 0
        means[shown] /= counts[shown][:, None]
        new = shown & np.isnan(self._seen[..., 0])
        self._seen[new] = means[new]
        old = shown & ~new
        self._seen[old] += self.learn_rate * (means[old] - self._seen[old])
        assert self._sightings is not None
        self._sightings += shown
        self._seen_frames += 1

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
        self._window, self._moment = (image, at), None
        self._travel += travel
        self._last_travel = travel
        if self._candidate is not None:
            self._confirm_pattern(image, at)
        elif self._may_look():
            self._look_for_pattern(image, at)
        # (a pattern not yet confirmed goes where the flow says: matching it would
        # let it follow parts at a steady pitch)
        bins = self._bins(image, at, match=self._candidate is None)
        if self._candidate is None:
            raw = self._differs(image, bins)
            if cv2.countNonZero(raw) > _RELIT * raw.size:
                raw = self._relit(image, bins, raw)
        else:  # the belt as before, less what the pattern in trial explains
            plain = self._candidate[2]
            bounds = self._belt_bounds(image.shape[1], plain)
            raw = cv2.bitwise_not(cv2.inRange(image, bounds[0], bounds[1]))
        filled = _solid(raw, closed=bins is not None)
        if self._candidate is not None:
            assert bins is not None
            filled = self._unexplained(filled, self._differs(image, bins), self._across(bins))
        self._frames += 1
        if self._frames % self.learn_every == 0:
            self._learn(image, filled, bins)
            self._see_belt(image, filled, bins)
        return self._label(filled)

    def _relit(self, image: np.ndarray, phase: np.ndarray | None, raw: np.ndarray) -> np.ndarray:
        """`raw` again with the belt model under the scene's new light, if that explains it.

        A lamp failing or a door opened scales the whole scene: a belt model learnt
        under the old light then differs everywhere, and as it learns only where no
        part is, it never follows (a light belt, grey 170, after a 20 % step: 175
        phantom parts in 21 s; a dark one, grey 70, after a 50 % step: one every 0.1
        s). The gain is the median ratio of the image's grey levels to the model's (the
        belt is most of the image); the model scaled by it is kept only if the belt
        then looks like the belt again (under `_RELIT` of the image differs), so that
        parts crowding the view under an unchanged light leave it as it was.
        """
        assert self._tile is not None
        belt = self._tile[:, :1] if phase is None else _between(self._tile, phase)
        seen = image.sum(axis=2, dtype=np.float32)
        gain = float(np.median(seen / np.maximum(belt.sum(axis=2), 1.0)))
        if not 0.1 < gain < 10.0:
            return raw
        before = self._tile
        self._tile = np.asarray(before * gain, np.float32)
        self._pictures.clear()
        again = self._differs(image, phase)
        if cv2.countNonZero(again) > _RELIT * again.size:
            self._tile = before
            self._pictures.clear()
            return raw
        if self._seen is not None:
            self._seen *= gain
        logger.info("the light changed (x%.2f): the belt model follows it", gain)
        return again

    @property
    def looking(self) -> bool:
        """Whether a belt pattern may still be looked for (in the first learning frames)."""
        return not self._repeat and self._looks < _LOOKS

    @property
    def settled(self) -> bool:
        """Whether the belt's kind is known: a pattern adopted, or none found where looked.

        Until then (the looks and a pattern's trial, after the model starts: a run's
        first seconds, or after a gap or a lost view) `picture` has nothing to give,
        whatever the belt is; once settled on a pattern, it has.
        """
        if self._tile is None or self._candidate is not None:
            return False
        if self._repeat:  # adopted: settled once `picture` has the pattern to give
            return self._seen is not None and self._seen.shape == self._tile.shape
        return not self.looking

    @property
    def pattern_pending(self) -> bool:
        """Whether a belt pattern is noted but not settled on yet (on trial, or no picture yet).

        What a part cut meanwhile waits for (`PartCounter`).
        """
        return bool(self._repeat) and not self.settled

    def _may_look(self) -> bool:
        """Whether to look for a belt pattern in this frame (the first few learning frames)."""
        return self.looking and self._frames % self.learn_every == 0

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
            q20, q50 = percentiles(self._areas, (20, 50))
            self._reference, self._typical = float(q20), float(q50)

    @property
    def piece_area(self) -> float | None:
        """A small whole piece's area lately (work pixels; see `_learn_size`), None until 20."""
        return self._reference

    @property
    def single_area(self) -> float | None:
        """The single part's area (work pixels) once 8 parts were seen alone, else None."""
        return self._single

    @property
    def one_part_below(self) -> float | None:
        """A whole piece under this area holds one part (`_holds`); None until parts are alike."""
        if self._single is None or not self._alike:
            return None
        return 1.5 * self._single

    def learn_part(self, area: int) -> None:
        """A single part seen on its own (once per part, when counted): its area.

        The single part's area is the median of the last 50; their spread (90th over
        10th percentile) says whether parts are alike enough for an area to tell how
        many a merged piece holds (one product at a time), from 8 parts on.
        """
        self._parts.append(area)
        if len(self._parts) >= 8:
            q10, q50, q90 = percentiles(self._parts, (10, 50, 90))
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
        both or neither are), each moved to the narrowest column nearby (a neck, if any;
        the middle of a stretch of them as narrow, `_valley`).
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
            cuts.append(_valley(columns, lo, hi))
        cuts.append(mask.shape[1])
        parts = []
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            part = np.zeros_like(mask)
            part[:, a:b] = mask[:, a:b]
            if part.any():
                parts.append(part)
        return parts

    def _start(self, image: np.ndarray) -> None:
        """A first belt model from one image: a colour per row (`_row_mode`), no pattern yet."""
        self._tile = _row_mode(image, self.contrast)  # (rows, 1, 3)
        self._model += 1
        self._repeat = 0.0
        self._travel = 0.0
        self._looks = 0
        self._candidate = None
        self._pictures.clear()

    def _look_for_pattern(self, image: np.ndarray, at: int) -> None:
        """Note a belt pattern when an image shows one (see `belt_repeat`).

        One repeat of it is kept, each phase the median of the repeats in view (the
        pattern is in every repeat, a part only in some), to be confirmed by
        `_confirm_pattern`.
        """
        self._looks += 1
        repeat = belt_repeat(_deviations(image, self.contrast), self.contrast, self.min_area)
        if not repeat:
            return
        n = max(1, round(repeat))
        self._repeat = repeat  # in use until `_confirm_pattern` says otherwise
        bins = self._phase_bins(np.arange(at, at + image.shape[1]), n)
        assert self._tile is not None
        tile = _without_crowded_rows(_fold(image, bins, n), self._tile, self.contrast)
        self._candidate = (repeat, self._travel, self._tile)
        self._failed = 0
        self._tile = tile
        self._pictures.clear()

    def _across(self, phase: np.ndarray) -> np.ndarray:
        """Which columns (at `phase`) show the pattern in trial's bars across the belt (bool).

        Its bins that stand the contrast out of the plain belt on most (`_ACROSS`) rows:
        cleats and their shadows, a link's joints; not a part folded into it (a few rows).
        """
        assert self._candidate is not None and self._tile is not None
        bars = _bars(self._tile, self._candidate[2], self.contrast)
        return bars[_whole(phase, self._tile.shape[1])]

    @staticmethod
    def _unexplained(filled: np.ndarray, differs: np.ndarray, across: np.ndarray) -> np.ndarray:
        """The pieces of `filled` a tenth or more of which `differs` from the pattern, trimmed.

        While a pattern is in trial, a piece it explains (a cleat, a hole) is no part,
        but one it explains only where it happens to lie on the pattern is. Of a piece
        kept, the pixels the pattern's bars across the belt explain (columns `across`)
        are not part (`_solid`: a part's gaps there closed): a cleat reaching out of a
        washer on it, kept with it, would join touching parts, or be split off as one.
        Only the bars: a part folded into the pattern in trial (parts at one phase in
        most repeats in view) explains a part there, which stays one.
        """
        count, labels = cv2.connectedComponents(filled, connectivity=8)
        if count < 2:
            return filled
        areas = np.bincount(labels.ravel(), minlength=count)
        unlike = np.bincount(labels[(differs > 0) & (filled > 0)], minlength=count)
        keep = unlike >= 0.1 * areas
        keep[0] = False
        bars = (differs == 0) & across[None, :]
        # (opened first: a bar's edges, a colour between bar and belt where the phase
        # in trial is a fraction of a pixel off, are lines a pixel wide)
        cut = cv2.morphologyEx((keep[labels] & ~bars).view(np.uint8), cv2.MORPH_OPEN, _SQUARE)
        return _solid(cut, closed=True)

    def _confirm_pattern(self, image: np.ndarray, at: int) -> None:
        """Adopt the pattern noted once the belt has brought a new repeat of it into view.

        One image cannot tell a belt's pattern from parts at a steady pitch; but the
        belt brings its pattern in again at the phase it travelled to, while the next
        part comes where its own pitch puts it. In the newly come belt, the pattern's
        standing-out pixels that look like it are for it, those that look like the
        plain belt against it, those like neither (a part in the way) neither. Adopted
        when most (`_AGREE`) of those seen are for it, given up when `_TRIALS` new
        repeats were not; a repeat mostly hidden by parts tells nothing.
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
        phase = self._bins(image, at)
        assert phase is not None
        new = min(new, image.shape[1])
        bins = _whole(phase[:new], tile.shape[1])
        pattern = (np.abs(tile - plain).max(axis=2) >= self.contrast)[:, bins]
        like = pattern & (self._differs(image[:, :new], phase[:new]) == 0)
        low, high = self._belt_bounds(new, plain)
        # where the pattern says it should show, the plain belt is evidence against
        # it; a part (like neither) is evidence of nothing
        against = pattern & ~like & (cv2.inRange(image[:, :new], low, high) > 0)
        seen = int(np.count_nonzero(like)) + int(np.count_nonzero(against))
        agree = int(np.count_nonzero(like)) / max(1, seen)
        self._candidate = None
        logger.debug(
            "pattern trial: %d new columns, %d pattern pixels, %d seen, %.2f agree (repeat %.1f)",
            new,
            np.count_nonzero(pattern),
            seen,
            agree,
            repeat,
        )
        if seen >= 0.5 * np.count_nonzero(pattern) and agree >= _AGREE:
            logger.info("belt pattern: repeats every %.1f work pixels", repeat)
            return
        if seen >= 0.5 * np.count_nonzero(pattern):
            self._failed += 1  # (parts hiding half of it tell nothing: the next repeat will)
        if self._failed < _TRIALS:
            self._candidate = (repeat, self._travel, plain)
            return
        self._repeat, self._tile = 0.0, plain
        self._pictures.clear()

    def _phase(self, columns: np.ndarray, n: int, travel: float | None = None) -> np.ndarray:
        """Where in the tile's `n` bins each work column is (float), the belt having travelled.

        (`travel`: since the tile's origin; `_travel`, this frame's, by default.)
        """
        travel = self._travel if travel is None else travel
        return np.mod(columns - travel, self._repeat) * (n / self._repeat)

    def _phase_bins(self, columns: np.ndarray, n: int) -> np.ndarray:
        """Which of the tile's `n` bins each work column shows, the belt having travelled."""
        return _whole(self._phase(columns, n), n)

    def _bins(self, image: np.ndarray, at: int, match: bool = True) -> np.ndarray | None:
        """Where in the tile each column of `image` is (bins, float), the belt's phase matched.

        The flow's travel predicts where the pattern is; it drifts (the flow reads a
        median speed, counting skips frames), so the phase is set to the shift, among
        those a little either side of the prediction, whose tile profile (the mean
        across the flow, read between bins) correlates best with the image's, to a
        fraction of a pixel (a parabola through the best shift and its neighbours: a
        cleat's edge half a pixel off is a colour between belt and cleat). None on a
        plain belt.
        """
        if not self._repeat:
            return None
        assert self._tile is not None
        n = self._tile.shape[1]
        columns = np.arange(at, at + image.shape[1])
        if not match:
            return self._phase(columns, n)
        reach = 2 + int(0.2 * abs(self._last_travel))
        self._travel += self._match(_profile(image), columns, reach, self._travel)
        return self._phase(columns, n)

    def _match(self, profile: np.ndarray, columns: np.ndarray, reach: int, travel: float) -> float:
        """The shift from `travel` whose phase matches `profile` best (see `_bins`).

        Searched within `reach` (at most half a repeat), then over the whole repeat if
        that matches poorly: the prediction is off by more than the flow's drift (the
        belt restarting after a halt, the flow lagging).
        """
        assert self._tile is not None
        tile_profile = self._tile.mean(axis=(0, 2))[None, :, None]
        whole = int(self._repeat // 2)
        reach = min(whole, reach)
        shift, poor = self._best_shift(profile, tile_profile, columns, reach, travel)
        if poor and reach < whole:
            shift, _ = self._best_shift(profile, tile_profile, columns, whole, travel)
        return shift

    def _best_shift(
        self,
        profile: np.ndarray,
        tile_profile: np.ndarray,
        columns: np.ndarray,
        reach: int,
        travel: float,
    ) -> tuple[float, bool]:
        """The shift within `reach` of the phase `travel` predicts matching `profile` best.

        Returns it (to a fraction of a pixel) and whether that match is poor: it rises
        past the search's edge (its best is at an edge and the shift beyond matches
        better), or correlates under `_MATCH` with the image's profile.
        """
        n = tile_profile.shape[1]
        # the tile profile read at every shift's phases at once (element by element the
        # same arithmetic as one shift at a time); each shift's row then scored alone
        shifts = np.arange(-reach - 1, reach + 2)
        phases = self._phase(columns[None, :] - shifts[:, None], n, travel)
        read = _between_profile(tile_profile[0, :, 0], phases)
        # each row less its own mean (a row's mean over the contiguous axis is the one
        # `row.mean()` gives); each shift's products and norm alone, as before
        read -= read.mean(axis=1, keepdims=True)
        scores = []
        for seen in read:
            scores.append(float(profile @ seen) / (float(np.linalg.norm(seen)) + 1e-6))
        inner = scores[1:-1]
        i = max(range(len(inner)), key=lambda j: inner[j] + 1e-6 * -abs(j - reach))
        left, mid, right = scores[i : i + 3]
        rising = (i == 0 and left > mid) or (i == len(inner) - 1 and right > mid)
        weak = mid < _MATCH * float(np.linalg.norm(profile))
        curvature = left - 2 * mid + right
        fraction = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
        return i - reach + min(max(fraction, -0.5), 0.5), rising or weak

    def _learn(self, image: np.ndarray, filled: np.ndarray, phase: np.ndarray | None) -> None:
        """Follow the belt from its pixels that are no part (see `_learn_tile` on a pattern)."""
        assert self._tile is not None
        if phase is not None:
            self._learn_tile(image, filled, phase)
            return
        # 1 on belt pixels: not a part, nor next to one
        _, belt_px = cv2.threshold(cv2.dilate(filled, _SQUARE), 0, 1, cv2.THRESH_BINARY_INV)
        masked = cv2.bitwise_and(image, image, mask=belt_px)
        # (each row's sums as a column's of the transposed image: OpenCV sums down the
        # columns several times faster than along rows of three channels; whole numbers)
        along_columns = cv2.transpose(masked)
        sums = cv2.reduce(along_columns, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S).reshape(-1, 1, 3)
        counts = cv2.reduce(belt_px, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).reshape(-1, 1)
        enough = max(4, image.shape[1] // 4)
        fewest, most, _, _ = cv2.minMaxLoc(counts)
        if most >= enough:
            mean = sums / np.maximum(counts, 1)[..., None]
            step = self.learn_rate * (mean - self._tile)
            if fewest < enough:  # rows with too little belt showing keep what they had
                step = np.where((counts >= enough)[..., None], step, 0.0)
            self._tile += step.astype(np.float32)
            self._pictures.clear()

    def _learn_tile(self, image: np.ndarray, filled: np.ndarray, phase: np.ndarray) -> None:
        """Follow a patterned belt's tile from its belt pixels, registered by travel.

        Belt pixels are those 3 or more from a part (its blur and shadow), per pixel,
        not per column: parts that come at the pattern's pitch sit at one phase for
        many repeats, and whole columns with a part would leave it unlearnt.

        But the tile starts from the first image's fold, which holds a part where
        parts lie at one phase in most repeats in view; the belt there then looks like
        a part and is never learnt, and the parts that look like the tile are, for as
        long as parts keep coming at that phase. So a pixel that looks like the tile's
        part that reaches across and along the belt (`_across_and_along`: no part is
        in it) is belt, part or not; where any shows, only those are learnt (parts
        that look like a ghost outnumber the belt showing between them), elsewhere
        the pixels apart from parts.

        Where a ghost came to fill most phases of some rows (parts in one lane at
        about the pattern's pitch, their phase drifting), those rows' colour is the
        parts' and the parts there look like belt: learnt, they keep it so for good.
        So every `_GHOST_EVERY` learning frames the tile's rows are held against the
        belt's colour per row in the image now (`_row_mode`, the belt's even under a
        crowd), as the first fold's are (`_without_crowded_rows`): on *belt-cleats-
        touching* (seed offset 7) teach's footage had 77 of 80 parts merged with the
        cleats and could not be taught.
        """
        assert self._tile is not None
        n = self._tile.shape[1]
        bins = _whole(phase, n)
        onehot = np.zeros((image.shape[1], n), np.float32)
        onehot[np.arange(image.shape[1]), bins] = 1.0
        pixels = image.astype(np.float32)
        expected = _across_and_along(self._tile)[:, bins]
        looks_belt = (np.abs(pixels - expected).max(axis=2) < self.contrast).astype(np.float32)
        apart = (cv2.dilate(filled, _NEAR_PART) == 0).astype(np.float32)
        # per (row, bin): the belt-looking pixels where any are, else those apart from parts
        any_belt = (looks_belt @ onehot >= 1)[:, bins]
        weights = np.where(any_belt, looks_belt, apart)
        sums = _binned(pixels, weights, onehot)
        counts = weights @ onehot
        usable = counts >= 1
        if not usable.any():
            return
        mean = sums / np.maximum(counts, 1)[..., None]
        step = self.learn_rate * (mean - self._tile)
        self._tile += np.where(usable[..., None], step, 0.0).astype(np.float32)
        self._pictures.clear()
        self._tile_learnt += 1
        if self._tile_learnt % _GHOST_EVERY == 0:
            self._tile = _without_crowded_rows(
                self._tile, _row_mode(image, self.contrast), self.contrast
            )

    def _differs(self, image: np.ndarray, phase: np.ndarray | None = None) -> np.ndarray:
        """Non-zero where a pixel differs from the belt as it should look by more than `contrast`.

        One `inRange` against the belt picture +- the contrast (a pixel is belt when
        every channel is within it), inverted: the same as thresholding the largest
        channel difference, in two passes instead of five. On a patterned belt, the
        picture is the tile read at each column's `phase` (between bins: a cleat's
        edge part way across a pixel is a colour between), and a pixel is belt when
        it is so there or a bin either side (the phase is matched to a fraction of a
        pixel, and the pattern's edges blur); not for any colour between those: a
        part on a cleat is neither cleat nor shadow.
        """
        if phase is None:
            bounds = self._pictures.get(image.shape[1])
            if bounds is None:
                bounds = self._pictures[image.shape[1]] = self._belt_bounds(image.shape[1])
            return cv2.bitwise_not(cv2.inRange(image, bounds[0], bounds[1]))
        assert self._tile is not None
        n = self._tile.shape[1]
        level = int(np.floor(self.contrast))
        belt = None
        for k in (0, -1, 1):
            picture = _between(self._tile, np.mod(phase + k, n))
            # (clipped by two ufuncs: `np.clip` costs several times more)
            low = np.minimum(np.maximum(picture - level, 0), 255).astype(np.uint8)
            high = np.minimum(np.maximum(picture + level, 0), 255).astype(np.uint8)
            here = cv2.inRange(image, low, high)
            belt = here if belt is None else cv2.bitwise_or(belt, here)
        assert belt is not None
        return cv2.bitwise_not(belt)

    def occupied(self, image: np.ndarray) -> bool:
        """Whether anything part-sized differs from the belt in `image` (no labelling)."""
        fg = self._foreground(image)
        return fg is not None and cv2.countNonZero(fg) >= self.min_area

    def _foreground(self, image: np.ndarray) -> np.ndarray | None:
        if self._tile is None or self._tile.shape[0] != image.shape[0]:
            return None
        phase = (
            None
            if not self._repeat
            else self._phase(np.arange(image.shape[1]), self._tile.shape[1])
        )
        return cv2.morphologyEx(self._differs(image, phase), cv2.MORPH_OPEN, _SQUARE)

    def foreground(self, image: np.ndarray) -> np.ndarray | None:
        """What differs from the belt in a whole work image, holes filled (uint8, 0 belt).

        None before the belt is learnt. For describing a stop's scene (`agent.causes`),
        not for counting: nothing is labelled, split or learnt.
        """
        fg = self._foreground(image)
        if fg is None:
            return None
        return fill_holes(fg)

    def _belt_bounds(
        self, width: int, plain: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """A plain belt model (default: this one) as images of `width` columns, +- the contrast.

        This model's are kept with the 8-bit belt they were made for: learning moves the
        model every few frames but seldom its whole grey levels, and the window's width
        changes from frame to frame (a narrower one reads the first columns: every
        column is alike).
        """
        tile = self._tile if plain is None else plain
        assert tile is not None
        # |difference| > contrast on integer levels is |difference| >= floor(contrast) + 1
        level = int(np.floor(self.contrast))
        # (rows, 3): one channel; clipped by two ufuncs, a fraction of `np.clip`'s cost
        belt = np.minimum(np.maximum(tile[:, 0], 0), 255).astype(np.uint8)
        kept = self._bounds if plain is None else None
        if kept is not None and kept[1].shape[1] >= width and kept[0].tobytes() == belt.tobytes():
            return kept[1][:, :width], kept[2][:, :width]
        rows = belt.shape[0]
        # saturating, as the comparison was (the stubs do not know scalar operands)
        low = cv2.subtract(belt, level)  # type: ignore[call-overload]
        high = cv2.add(belt, level)  # type: ignore[call-overload]
        # a nearest-neighbour stretch of both at once: several times cheaper than
        # numpy broadcasting
        both = np.concatenate((low, high))[:, None, :]
        stretched = cv2.resize(both, (width, 2 * rows), interpolation=cv2.INTER_NEAREST)
        bounds = stretched[:rows], stretched[rows:]
        if plain is None:
            self._bounds = (belt, *bounds)
        return bounds


def _profile(image: np.ndarray) -> np.ndarray:
    """The image's mean colour per column along the flow, less its mean (float32)."""
    profile = image.mean(axis=(0, 2), dtype=np.float32)
    profile -= profile.mean()
    return profile


def _deviations(image: np.ndarray, contrast: float) -> np.ndarray:
    """Grey levels less their row's median, clipped at twice `contrast` (float32).

    Rows' medians removed: the light's fall-off across the belt is not a pattern;
    clipped: a part in view hardly weighs.
    """
    # the mean of B, G and R as `image.astype(np.float32).mean(axis=2)` makes it (their
    # whole sum over 3, in float32) without converting every channel first
    total = np.add(np.add(image[..., 0], image[..., 1], dtype=np.uint16), image[..., 2])
    grey = total.astype(np.float32) / 3
    grey -= median(grey, 1)
    return np.clip(grey, -2 * contrast, 2 * contrast, out=grey)


def belt_repeat(deviations: np.ndarray, contrast: float, min_area: int) -> float:
    """The repeat along the flow of a pattern that would pass for parts, or 0.

    The autocorrelation along the flow of the image's `_deviations` over lags of 3
    to half its length: the shortest lag that matches about as well as the best is
    the repeat (a pattern matches itself at every multiple of it), or a whole
    fraction of it that matches well (parts in view can favour a multiple). No lag
    matching well (0.5), or nothing standing `contrast` from its row's colour in
    every repeat in view at some phase (a part is in one only), and there is no such
    pattern. Failing that, the same past the autocorrelation's first low, at
    `_MATCH`, for a pattern that folds; failing that, the same on the image's column
    profile (see the code; the last two ask `_folds`, which wants three repeats in
    view). A repeat the view holds fewer than `_REPEATS_IN_VIEW` of must reach across
    the belt as well (`_foldable`).
    """
    grey = deviations
    if grey.shape[1] // 2 < 3:
        return 0.0
    scores = _lag_scores(grey)
    found = _repeat_among(grey, scores, 0, 0.5, contrast, min_area)
    if found and _foldable(grey, found, contrast):
        return found
    # the first lags match by what stands out's own width (a hole overlaps itself),
    # and with parts in view can hide a repeat that matches less (they seldom repeat
    # with it): past the first low, at `_MATCH`, a pattern that folds (parts at a
    # steady pitch on a dirty belt are alike one repeat on, but do not reach across)
    first = _first_low(scores)
    found = _repeat_among(grey, scores, first, _MATCH, contrast, min_area, folded=True)
    if found:
        return found
    # a faint pattern under many parts: each column's median across the belt (a part
    # covers a minority of its rows, links and cleats span them) repeats where the
    # whole image no longer does; `_folds` still judges it on the image
    profile = _lag_scores(median(grey, 0))
    first = _first_low(profile)
    return _repeat_among(grey, profile, first, 0.5, contrast, min_area, folded=True)


def _foldable(grey: np.ndarray, repeat: float, contrast: float) -> bool:
    """Whether a fold of `grey` at `repeat` can be a belt's pattern.

    A fold is the median of the repeats in view, and of two it is their mean: parts at
    a steady pitch two to the view fold into a "pattern" that then explains them away
    while it is tried (*motion-blur*, seed offset 7: parts two to a 78.8 px repeat in
    a view of 160, adopted; the part crossing 1.2 s in was never seen). So where the
    view holds fewer than `_REPEATS_IN_VIEW` repeats, what stands out of the fold must
    reach across the belt (`_across`): a cleat does, a part does not.
    """
    if grey.shape[1] >= _REPEATS_IN_VIEW * repeat:
        return True
    tile, _ = _folded(grey, repeat)
    return _across(np.abs(tile) >= contrast)


def _lag_scores(grey: np.ndarray) -> list[float]:
    """The normalised autocorrelation along the rows of `grey` at lags 3 to half its length.

    Every lag's products at once (an FFT), each over the overlap's own energies.
    """
    along = grey.shape[1]
    spectrum = np.fft.rfft(grey, n=2 * along, axis=1)
    products = np.fft.irfft(spectrum * np.conj(spectrum), n=2 * along, axis=1).sum(axis=0)
    energy = np.concatenate(([0.0], np.cumsum(np.square(grey).sum(axis=0))))
    k = np.arange(3, along // 2 + 1)
    norm = np.sqrt((energy[along] - energy[k]) * energy[along - k]) + 1e-6
    return (products[k] / norm).tolist()


def _first_low(scores: list[float]) -> int:
    """The index of the autocorrelation's first low (the end of its first lobe)."""
    lobe = next((i for i in range(1, len(scores)) if scores[i] > scores[i - 1]), len(scores))
    return lobe - 1


def _repeat_among(
    grey: np.ndarray,
    scores: list[float],
    first: int,
    match: float,
    contrast: float,
    min_area: int,
    folded: bool = False,
) -> float:
    """`belt_repeat` over the lags from index `first` on (lag = index + 3), matching `match`.

    `folded`: only a pattern that folds (`_folds`) will do.
    """
    along = grey.shape[1]
    top = max(scores[first:], default=0.0)
    if top < match:
        return 0.0
    i = next(
        i
        for i, r in enumerate(scores)
        if i >= first and r >= top - 0.1 and (i + 1 == len(scores) or r >= scores[i + 1])
    )
    lag = i + 3
    # only a pattern that would pass for a part needs modelling
    if np.count_nonzero(np.abs(grey) >= contrast) * lag / along < min_area:
        return 0.0
    # parts in view can make a multiple of the repeat match best: its whole fractions
    # that match well and peak are tried first, the shortest first
    tried = [i]
    for n in range(2, lag // 3 + 1):
        j = int(round(lag / n)) - 3
        j = max(range(max(0, j - 1), min(len(scores), j + 2)), key=lambda m: scores[m])
        peak = 0 < j < len(scores) - 1 and scores[j - 1] <= scores[j] >= scores[j + 1]
        if peak and j >= first and scores[j] >= match and j not in tried:
            tried.append(j)
    for j in sorted(tried):
        repeat = float(j + 3)
        if 0 < j < len(scores) - 1:
            left, mid, right = scores[j - 1 : j + 2]
            curvature = left - 2 * mid + right
            if curvature < 0:
                repeat += min(max(0.5 * (left - right) / curvature, -0.5), 0.5)
        alike = not folded and _alike_one_on(grey, repeat, contrast)
        if alike or _folds(grey, repeat, contrast):
            return repeat
    return 0.0


def _alike_one_on(grey: np.ndarray, repeat: float, contrast: float) -> bool:
    """Whether what stands out is alike one repeat on, give or take a column.

    A belt's pattern is, parts seldom are (they vary in pitch, turn and size); but a
    part in view breaks it: see `_folds`.
    """
    along = grey.shape[1]
    start = int(repeat) - 1
    if start + 3 >= along:
        return False
    width = along - start - 3
    unlike = np.min(
        [np.abs(grey[:, :width] - grey[:, start + s : start + s + width]) for s in range(4)],
        axis=0,
    )
    stands = np.abs(grey[:, :width]) >= contrast
    return bool(stands.any()) and float(np.mean(unlike[stands] > contrast)) <= _UNLIKE


def _folds(grey: np.ndarray, repeat: float, contrast: float) -> bool:
    """Whether a pattern stands out of the belt in every repeat, parts in view or not.

    One repeat folded (each phase's median over the 3 or more repeats in view: a part
    is in few of them) must be found again in most repeats (a part spoils some), give
    or take a column, and reach across most of the belt (rows with it from first to
    last: cleats, links and holes reach across the belt, parts at a steady pitch that
    would fold as well lie on a part of it).
    """
    along = grey.shape[1]
    if along < 3 * repeat:
        return False
    tile, bins = _folded(grey, repeat)
    if not _across(np.abs(tile) >= contrast):
        return False
    pattern = tile[:, bins]
    unlike = (
        np.min([np.abs(grey - np.roll(pattern, s, axis=1)) for s in (-1, 0, 1)], axis=0) > contrast
    )
    stands = np.abs(pattern) >= contrast
    agree: list[float] = []
    for j in range(int(along // repeat)):
        chunk = slice(int(np.ceil(j * repeat)), int((j + 1) * repeat))
        standing = int(np.count_nonzero(stands[:, chunk]))
        if standing:
            missed = int(np.count_nonzero(unlike[:, chunk] & stands[:, chunk]))
            agree.append(1.0 - missed / standing)
    return bool(agree) and float(np.median(agree)) >= 1.0 - _UNLIKE


def _folded(grey: np.ndarray, repeat: float) -> tuple[np.ndarray, np.ndarray]:
    """One repeat of `grey` folded at `repeat` (`_fold`), and each column's bin."""
    n = max(1, round(repeat))
    bins = _fold_bins(np.arange(grey.shape[1], dtype=np.float64), repeat, n)
    return _fold(grey, bins, n), bins


def _across(stands: np.ndarray) -> bool:
    """Whether what stands out reaches across most of the belt (`_ACROSS`), first row to last.

    Cleats, links and most perforations do; parts at a steady pitch, which repeat as
    well, lie on a part of it.
    """
    rows = np.flatnonzero(stands.any(axis=1))
    return bool(rows.size) and rows[-1] + 1 - rows[0] >= _ACROSS * stands.shape[0]


def _fold_bins(columns: np.ndarray, repeat: float, n: int) -> np.ndarray:
    """Which of `n` bins over one repeat each column (a position along the belt) falls in."""
    phase = np.mod(columns, repeat)
    return np.minimum((phase * (n / repeat)).astype(np.intp), n - 1)


def _fold(image: np.ndarray, bins: np.ndarray, n: int) -> np.ndarray:
    """One repeat of `image` (rows, columns[, channels]): per bin, the median of its columns.

    A median, not a mean: parts lie on some repeats only and do not move it. A bin no
    column shows takes its neighbour's.
    """
    tile = np.empty((image.shape[0], n, *image.shape[2:]), np.float32)
    for b in range(n):
        columns = np.flatnonzero(bins == b)
        if not columns.size:
            columns = np.flatnonzero(bins == (b - 1) % n) if b else np.flatnonzero(bins == 1)
        tile[:, b] = median(image[:, columns], 1)[:, 0]
    return tile


def _across_and_along(tile: np.ndarray) -> np.ndarray:
    """The tile (rows, bins, 3) as a row's colour plus a bin's offset, each a median.

    The part of a belt's look that reaches along it (the light across it, a modular
    belt's joints) and across it (cleats, their shadows, hinges): a part, on some rows
    of some bins only, is in neither. Perforations and the like are not either.
    """
    rows = median(tile, 1)
    return rows + median(tile - rows, 0)


def _whole(phase: np.ndarray, n: int) -> np.ndarray:
    """The bin each phase (float, in bins) falls in."""
    return np.minimum(phase.astype(np.intp), n - 1)


def _binned(pixels: np.ndarray, weights: np.ndarray, onehot: np.ndarray) -> np.ndarray:
    """Per row and bin, the sum of the weighted pixels of the columns in the bin (float32).

    `np.einsum("rwc,rw,wn->rnc", pixels, weights, onehot)` as three matrix products
    (forty times cheaper): the pixels are whole grey levels and the weights and the
    one-hot bins 0 or 1, so every partial sum is a whole number under 2**24, exact in
    float32 whatever the order of summation: the same bits.
    """
    weighted = pixels * weights[..., None]
    return np.stack([weighted[..., c] @ onehot for c in range(pixels.shape[2])], axis=-1)


def _between_profile(profile: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """A profile of n bins read at each phase (any shape) as `_between` reads a tile.

    The same arithmetic element by element: `_between(profile[None, :, None], row)[0, :, 0]`
    for each row of `phase`, in one go.
    """
    n = profile.shape[0]
    q = phase - 0.5
    i = np.floor(q)
    f = (q - i).astype(np.float32)
    i = i.astype(np.intp)
    a = profile[i % n]
    b = profile[(i + 1) % n]
    return a + (b - a) * f


def _between(tile: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """The tile (rows, n, channels) read at each phase (float, in bins), linearly between bins.

    A bin's value is at its middle (phase b + 0.5); the tile wraps round.
    """
    n = tile.shape[1]
    q = phase - 0.5
    i = np.floor(q)
    f = (q - i).astype(np.float32)[None, :, None]
    i = i.astype(np.intp)
    # `np.take` and in-place steps: a third cheaper than indexing and temporaries, and
    # a + (b - a) * f to the bit (IEEE addition commutes)
    a = np.take(tile, i % n, axis=1)
    read = np.take(tile, (i + 1) % n, axis=1)
    read -= a
    read *= f
    read += a
    return read


def _valley(columns: np.ndarray, lo: int, hi: int) -> int:
    """The narrowest column of `lo:hi`; the middle of a waist where it is one of several.

    Two parts edge to edge, blurred and filled at the work resolution, often meet in a
    waist of equally narrow columns rather than at one neck: the contact lies along
    it, about its middle (the first of them cut a part 3 px short of its 17 on
    *everything*'s modular belt, and so its crop). Only a waist: a stretch that wider
    columns bound on both sides within the piece; a flat end of the piece (cut by the
    window) tells nothing, and the first stays.
    """
    first = lo + int(np.argmin(columns[lo:hi]))
    start = end = first
    while start > 0 and columns[start - 1] == columns[first]:
        start -= 1
    while end + 1 < columns.size and columns[end + 1] == columns[first]:
        end += 1
    if start == 0 or end == columns.size - 1:
        return first
    return min(max((start + end) // 2, lo), hi - 1)


def _solid(raw: np.ndarray, closed: bool) -> np.ndarray:
    """What differs from the belt as solid pieces (uint8, 1 on parts): holes filled, opened.

    Holes are filled first (a 3x3 opening would cut a washer's ring at its bolt
    holes); `closed` on a patterned belt, where a part's pixels that look like the
    pattern (a washer over a cleat) cut its outline: gaps of a pixel or two, closed
    before holes are filled.
    """
    if closed:
        raw = cv2.morphologyEx(raw, cv2.MORPH_CLOSE, _CLOSE)
    return cv2.morphologyEx(fill_holes(raw), cv2.MORPH_OPEN, _SQUARE)


def _bars(tile: np.ndarray, plain: np.ndarray, contrast: float) -> np.ndarray:
    """A tile's bins (bool) that stand `contrast` out of the plain belt on most rows.

    On `_ACROSS` of them: a pattern's bars across the belt (cleats, a link's joints),
    not a part folded into a few rows.
    """
    stands = np.abs(tile - plain).max(axis=2) >= contrast
    return np.asarray(np.mean(stands, axis=0) >= _ACROSS)


def _row_mode(image: np.ndarray, contrast: float) -> np.ndarray:
    """Each row's most common colour (rows, 1, 3 float32): the belt's, even under a crowd.

    The per-channel median of the row's pixels whose grey level lies in the densest
    window `contrast` levels wide. Not the row's median: parts that cover more than
    half of a row (touching parts along the middle of the belt) would make it the
    parts' colour, and a belt model that starts so never learns the belt there (its
    belt looks like a part). The belt is one colour give or take its noise; parts
    spread over more (rings, holes showing the belt, shading, edges).
    """
    rows = image.shape[0]
    total = np.add(np.add(image[..., 0], image[..., 1], dtype=np.uint16), image[..., 2])
    grey = (total // 3).astype(np.intp)
    counts = np.bincount(
        (grey + 256 * np.arange(rows)[:, None]).ravel(), minlength=256 * rows
    ).reshape(rows, 256)
    width = max(1, int(contrast))
    cumulative = np.concatenate((np.zeros((rows, 1), np.intp), np.cumsum(counts, axis=1)), axis=1)
    windows = cumulative[:, width:] - cumulative[:, :-width]  # levels [k, k + width)
    low = np.argmax(windows, axis=1)
    out = np.empty((rows, 1, 3), np.float32)
    for r in range(rows):
        inside = (grey[r] >= low[r]) & (grey[r] < low[r] + width)
        out[r, 0] = np.median(image[r, inside], axis=0)
    return out


def _without_crowded_rows(tile: np.ndarray, plain: np.ndarray, contrast: float) -> np.ndarray:
    """A folded tile with the parts taken out of the rows they crowded.

    A fold's bin is the median of its repeats in view, and parts that cover most of
    some rows in the image (touching parts along the belt's middle) leave their colour
    in most bins of those rows: the tile's row (its median over bins) then differs from
    the plain belt model's (`_row_mode`, learnt since) by `contrast` or more. Left so,
    the belt would look like a part on those rows for good (`_learn_tile` learns the
    pixels that look like the tile's rows). There, where the plain row is the belt's
    usual colour, every bin is the plain row's colour but the pattern's own: those that
    stand out of the plain belt on most (`_ACROSS`) of the other rows (a cleat, a
    link's joint).
    """
    crowded = np.abs(median(tile, 1) - plain).max(axis=2)[:, 0] >= contrast
    # (only where the plain row is the belt's usual colour: in one image parts can
    # crowd the plain model's rows too, and then it knows no better)
    crowded &= np.abs(plain - median(plain, 0)).max(axis=2)[:, 0] < contrast
    if not crowded.any() or crowded.all():
        return tile
    pattern = _bars(tile[~crowded], plain[~crowded], contrast)
    out = tile.copy()
    shape = (int(crowded.sum()), int((~pattern).sum()), 3)
    out[np.ix_(crowded, ~pattern)] = np.broadcast_to(plain[crowded], shape)
    return out
