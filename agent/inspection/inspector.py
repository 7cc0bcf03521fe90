"""Inference: each counted part's verdict from the line's taught model.

`TaughtInspector` places each view in the canonical pose (`register`), brings it to
the taught light (`LineModel.normalise`), maps how unusual every pixel is (pixels on
each view, the backbone's patches on the middle one), and compares the part's score
with the threshold (`threshold`). Fitting is in `fit`, saving in `persist`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from agent.inspection import PartCrop, Verdict
from agent.inspection.classifier import DefectClassifier
from agent.inspection.model import Taught, backbone_features
from agent.inspection.register import Registered, place
from agent.inspection.runtime import Backbone
from agent.inspection.threshold import part_score, peak

logger = logging.getLogger(__name__)

#: Views of a part scored (the middle ones of those the pipeline gathered).
MAX_VIEWS = 3


def middle(n: int, wanted: int) -> list[int]:
    """The indices of the `wanted` middle items of `n` (best framed views), in order."""
    if wanted <= 0 or n == 0:
        return []
    order = sorted(range(n), key=lambda i: abs(i - (n - 1) / 2))
    return sorted(order[:wanted])


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
        feature_views: int = 1,
        max_views: int = MAX_VIEWS,
        classifier: DefectClassifier | None = None,
    ):
        self.taught = taught
        self.model = taught.model
        self.backbone = backbone if taught.model.patches is not None else None
        self.feature_views = feature_views
        self.max_views = max_views
        self.classifier = classifier

    def _chosen(self, views: Sequence[PartCrop]) -> list[PartCrop]:
        return [views[i] for i in middle(len(views), self.max_views)]

    def view_maps(self, views: Sequence[PartCrop]) -> list[tuple[Registered, np.ndarray]]:
        """Each view found in pose with its anomaly map (views with no part are skipped)."""
        # The views nearest the crossing are the best framed; a median of three
        # already ignores one bad frame, and each view costs a few milliseconds.
        chosen = self._chosen([v for v in views if not (v.touching or v.clipped)] or views)
        registered = [place(v, self.model.reference, self.model.side) for v in chosen]
        found = [r for r in registered if r is not None]
        if self.model.part_scale:
            # Prefer views showing the whole part alone; a part that is wrong in every
            # view (half of it missing) is still scored on what there is.
            whole = [r for r in found if plausible(r.pose.scale, self.model.part_scale)]
            found = whole or found
        # Without a pixel comparison (a texture) only the patches judge: on every view,
        # so a part's score stays the median of its views.
        wanted = self.feature_views if self.model.pixels is not None else len(found)
        with_features = set(middle(len(found), wanted))
        out = []
        for i, reg in enumerate(found):
            image = self.model.normalise(reg.image, reg.mask, reg.light)
            patch = None
            if self.backbone is not None and i in with_features:
                assert self.model.patches is not None
                feats = backbone_features(self.backbone, image, self.model.patches.channels)
                patch = self.model.patch_map(feats)
            pixel = self.model.pixel_map(image)
            if pixel is None and patch is None:
                continue  # nothing judges this view
            amap = self.model.combine(pixel, patch)
            if reg.ignore is not None:
                amap[reg.ignore] = 0.0  # where a touching neighbour lies against the part
            out.append((reg, amap))
        return out

    def inspect(self, views: Sequence[PartCrop]) -> Verdict:
        """The verdict for one part seen in `views`."""
        maps = self.view_maps(views)
        if not maps:
            # No part could be segmented in any view (an empty or blank crop): nothing
            # to judge, and a count is no reason to book a reject.
            logger.warning("inspection: no part found in %d views; counted as good", len(views))
            return Verdict(good=True, score=None)
        scores = [peak(m) for _, m in maps]
        score = part_score(scores) / self.model.threshold
        good = score <= 1.0
        shown = int(np.argsort(scores)[len(scores) // 2])  # the median view
        reg, amap = maps[shown]
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
