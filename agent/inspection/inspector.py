"""Inference: each counted part's verdict from the line's taught model.

`TaughtInspector` places each view in the canonical pose (`register`), brings it to
the taught light (`LineModel.normalise`), maps how unusual every pixel is (pixels on
each view, the backbone's patches on the middle one showing the part alone), and
compares the part's score (`part_score`: the larger comparison's) with the threshold.
Fitting is in `fit`, saving in `persist`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from agent.inspection import FEATURE_VIEWS, PartCrop, Verdict
from agent.inspection.classifier import DefectClassifier
from agent.inspection.model import Taught, backbone_features
from agent.inspection.register import Registered, place
from agent.inspection.runtime import Backbone
from agent.inspection.threshold import median_peak, peak

logger = logging.getLogger(__name__)

#: Cells across the coarsest (stride-16) feature map of a view.
PATCH_CELLS = 10
#: Grey level at or above which a pixel is taken as saturated (clipped by the camera).
SATURATED = 250
#: Views of a part scored (the middle ones of those the pipeline gathered).
MAX_VIEWS = 3
#: A view whose part leaves more than this share of the taught body uncovered (where
#: no neighbour lies) was cut wrong, most often where the counter split it from a
#: neighbour: its pose is off and its maps show it all over. (Good views: 99 % under
#: 0.05; such cuts 0.09-0.28, on everything at offsets 1 and 2; a chip or a crack
#: uncovers under 0.02.)
UNCOVERED = 0.1


def middle(n: int, wanted: int) -> list[int]:
    """The indices of the `wanted` middle items of `n` (best framed views), in order."""
    if wanted <= 0 or n == 0:
        return []
    order = sorted(range(n), key=lambda i: abs(i - (n - 1) / 2))
    return sorted(order[:wanted])


@dataclass(frozen=True, slots=True)
class ViewMaps:
    """A view in pose and its maps inside the part's region (None: not run on it)."""

    reg: Registered
    pixel: np.ndarray | None
    patch: np.ndarray | None
    #: The pixel differences less their local mean (`LineModel.pixel_maps`).
    detail: np.ndarray | None = None

    @property
    def each(self) -> tuple[np.ndarray | None, ...]:
        """The comparisons' maps (None: not run on this view)."""
        return (self.pixel, self.detail, self.patch)

    @property
    def combined(self) -> np.ndarray:
        """The largest of the maps at every pixel."""
        maps = [m for m in self.each if m is not None]
        return maps[0] if len(maps) == 1 else np.maximum.reduce(maps)


def part_score(maps: Sequence[ViewMaps]) -> float:
    """A part's score: each comparison's median peak over the views it ran on, the largest.

    The backbone runs on fewer views than the pixels (`FEATURE_VIEWS` of three: it
    costs most), so a median over views of both maps together would let pixel-only
    views outvote the views whose patches saw a stain or a scratch the pixel map finds
    only faintly; the pixels still ignore one bad frame. Where the patches saw the part
    with a neighbour against it (every view had one, `TaughtInspector.maps`), the cut
    outline shifts the backbone's features all over the part: there the peaks of all
    the maps together take the median over views, and the patches judge one view, so
    that view is one say among three.
    """
    if any(v.patch is not None and v.reg.ignore is not None for v in maps):
        return float(np.median([peak(v.combined) for v in maps]))
    per_map = [
        median_peak([m for m in view_maps if m is not None])
        for view_maps in zip(*(v.each for v in maps), strict=True)
    ]
    return max(s for s in per_map if s is not None)


def plausible(scale: float, typical: float, tolerance: float = 0.2) -> bool:
    """Whether a view's part size is within `tolerance` of the typical part's."""
    return abs(scale / typical - 1.0) <= tolerance


class TaughtInspector:
    """Scores each part against its line's taught model."""

    enabled = True

    def __init__(
        self,
        taught: Taught,
        backbone: Backbone | None,
        feature_views: int = FEATURE_VIEWS,
        max_views: int = MAX_VIEWS,
        classifier: DefectClassifier | None = None,
    ):
        self.taught = taught
        self.model = taught.model
        self.backbone = backbone if taught.model.patches is not None else None
        self.feature_views = feature_views
        self.max_views = max_views
        self.classifier = classifier
        # what a patch sees around it (one cell of the coarsest feature map), and how
        # far the map's smoothing spreads its value (two sigmas)
        cell = math.ceil(taught.model.side / PATCH_CELLS)
        reach = 2 * (cell + math.ceil(2 * taught.model.patch_sigma)) + 1
        self._patch_reach = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach))
        self._appearance = taught.model.appearance

    @property
    def patterned_belt(self) -> bool:
        """The line was taught on a belt with a pattern (see `Inspector`)."""
        return self.model.patterned_belt

    def _chosen(self, views: Sequence[PartCrop]) -> list[PartCrop]:
        return [views[i] for i in middle(len(views), self.max_views)]

    def judgeable(self, views: Sequence[PartCrop]) -> list[PartCrop]:
        """The views the model can judge: on a patterned belt, those cut once the counter knew it.

        Before, the belt's pattern under a view is not known, and a cleat seen through
        a hole would pass for the part.
        """
        if not self.model.patterned_belt:
            return list(views)
        return [v for v in views if v.belt_settled]

    def view_maps(self, views: Sequence[PartCrop]) -> list[ViewMaps]:
        """Each view found in pose with its maps (views with no part are skipped)."""
        views = self.judgeable(views)
        # The views nearest the crossing are the best framed; a median of three
        # already ignores one bad frame, and each view costs a few milliseconds.
        chosen = self._chosen([v for v in views if not (v.touching or v.clipped)] or views)
        model = self.model
        registered = [place(v, model.reference, model.side, self._appearance) for v in chosen]
        found = [r for r in registered if r is not None]
        found = [found[i] for i in self.scored(found)]
        images = [model.normalise(r.image, r.mask, r.light) for r in found]
        return self.maps(found, images, self._features(images))

    def _features(self, images: Sequence[np.ndarray]) -> Callable[[int], np.ndarray] | None:
        """The backbone's features of image i, computed when asked (None: no patches)."""
        backbone, patches = self.backbone, self.model.patches
        if backbone is None or patches is None:
            return None
        return lambda i: backbone_features(backbone, images[i], patches.channels)

    def scored(self, found: Sequence[Registered]) -> list[int]:
        """Which of the views found in pose are scored (indices into `found`)."""
        if not self.model.part_scale:
            return list(range(len(found)))
        # Prefer views showing the whole part alone; a part that is wrong in every
        # view (half of it missing) is still scored on what there is.
        whole = [
            i
            for i, r in enumerate(found)
            if plausible(r.pose.scale, self.model.part_scale) and self._covers_body(r)
        ]
        return whole or list(range(len(found)))

    def _covers_body(self, reg: Registered) -> bool:
        """Whether the view's part covers the taught body but for `UNCOVERED` of it."""
        body = self.model.body
        if body is None:
            return True
        uncovered = body & (reg.mask <= 0.5)
        if reg.unsure is not None:
            uncovered &= ~reg.unsure  # a neighbour lies there: not sure either way
        return bool(np.count_nonzero(uncovered) <= UNCOVERED * np.count_nonzero(body))

    def maps(
        self,
        found: Sequence[Registered],
        images: Sequence[np.ndarray],
        features: Callable[[int], np.ndarray] | None,
    ) -> list[ViewMaps]:
        """The maps of the views scored, given them brought to the taught light.

        `images` are `found` normalised (`LineModel.normalise`), `features(i)` the
        backbone's features of image i (None: no patches). Teach passes what it
        computed once per view (`prepared`); inspection computes them in `view_maps`,
        the features only of the views the patches judge.
        """
        # Without a pixel comparison (a texture) only the patches judge: on every view,
        # so a part's score stays the median of its views.
        if self.model.pixels is None:
            with_features = set(range(len(found)))
        else:
            # The patches judge one view on their own (`part_score`), so not one with a
            # neighbour against the part: where the neighbour was cut off, the outline
            # the backbone sees is not a good part's, and its features shift all over.
            alone = [i for i, r in enumerate(found) if r.ignore is None]
            if alone:
                with_features = {alone[j] for j in middle(len(alone), self.feature_views)}
            else:
                # A part in a queue: its patches are one view's say among three (on two,
                # beside a neighbour, they outvoted the pixels: 18 of 30 good washers
                # touched by a neighbour in every view were rejected).
                with_features = set(middle(len(found), min(self.feature_views, 1)))
        out = []
        for i, (reg, image) in enumerate(zip(found, images, strict=True)):
            patch = None
            if features is not None and i in with_features:
                patch = self.model.patch_map(features(i))
            pixel, detail = self.model.pixel_maps(image, reg.mask, reg.unsure)
            if pixel is None and patch is None:
                continue  # nothing judges this view
            patch_ignore = None if patch is None else self._unsure_patches(reg)
            out.append(
                ViewMaps(
                    reg,
                    self._judged(pixel, reg.unsure),
                    self._judged(patch, patch_ignore),
                    self._judged(detail, reg.unsure),
                )
            )
        return out

    def _unsure_patches(self, reg: Registered) -> np.ndarray | None:
        """Where the patch map is not judged (None: everywhere is).

        A patch sees a cell of the coarsest feature map around it, so within that of
        where a touching neighbour lies (the cut outline there is no good part's: good
        queued parts' patches peaked there at 3-5 times the threshold, 1.6-2 when only
        the neighbour's own place was left out) and of where the camera saturated (a
        saturated stretch of the part is flat, not the texture good parts showed: a
        floodlight); only the pixel comparison judges there. A texture has no other
        judge, and its brightest grains may saturate.
        """
        unsure = np.zeros(reg.mask.shape, bool) if reg.ignore is None else reg.ignore.copy()
        if self.model.pixels is not None:
            image = reg.image  # (numpy's max over the channel axis cost 20 times this)
            brightest = np.maximum(np.maximum(image[..., 0], image[..., 1]), image[..., 2])
            unsure |= brightest >= SATURATED
        if not unsure.any():
            return None
        return cv2.dilate(unsure.view(np.uint8), self._patch_reach) > 0

    def _judged(self, amap: np.ndarray | None, ignore: np.ndarray | None) -> np.ndarray | None:
        """`amap` inside the part's region, not where a touching neighbour lies."""
        if amap is None:
            return None
        inside = self.model.combine(amap, None)
        if ignore is not None:
            inside[ignore] = 0.0  # what is part and what neighbour there is not sure
        return inside

    def inspect(self, views: Sequence[PartCrop]) -> Verdict:
        """The verdict for one part seen in `views`."""
        judgeable = self.judgeable(views)
        if views and not judgeable:
            # The belt model's first seconds on a patterned belt: counted, not judged.
            logger.info("inspection: a part seen before the belt's pattern was known is not judged")
            return Verdict(good=True, inspected=False)
        views = judgeable
        maps = self.view_maps(views)
        if not maps:
            # No part could be segmented in any view (an empty or blank crop): nothing
            # to judge, and a count is no reason to book a reject.
            logger.warning("inspection: no part found in %d views; counted as good", len(views))
            return Verdict(good=True, score=None)
        score = part_score(maps) / self.model.threshold
        good = score <= 1.0
        scores = [peak(m.combined) for m in maps]
        shown = int(np.argsort(scores)[len(scores) // 2])  # the median view
        reg, amap = maps[shown].reg, maps[shown].combined
        heatmap = np.clip(amap / (2.0 * self.model.threshold), 0.0, 1.0).astype(np.float32)
        crop = np.clip(reg.image, 0, 255).astype(np.uint8)
        defect = None
        if not good:
            defect = "anomaly"
            if self.classifier is not None:
                chosen = self._chosen(views)
                label, _ = self.classifier.classify(chosen[len(chosen) // 2].image)
                defect = label if label != "good" else "anomaly"
        return Verdict(
            good=good,
            score=round(float(score), 4),
            defect=defect,
            heatmap=heatmap,
            crop=crop,
        )
