"""Calibration: a fitted model's map scales and threshold, from held-out good parts.

Each step returns a new `LineModel`; the fitted one is left as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from agent.inspection import PartCrop
from agent.inspection.inspector import TaughtInspector
from agent.inspection.model import LineModel, Taught, backbone_features
from agent.inspection.register import Registered
from agent.inspection.runtime import Backbone
from agent.inspection.threshold import peak, threshold_for


def scaled(model: LineModel, held: list[list[Registered]], backbone: Backbone | None) -> LineModel:
    """`model` with each map's scale: the median peak on held-out good views.

    Both maps then read "1 = typical of good parts", so their maximum is fair.
    """
    unit = replace(model, pixel_scale=1.0, patch_scale=1.0)
    pixel_scale = patch_scale = 1.0
    if unit.pixels is not None:
        pixel_peaks = [
            peak(unit.combine(unit.pixel_map(unit.normalise(r.image, r.mask, r.light)), None))
            for regs in held
            for r in regs
        ]
        pixel_scale = float(np.median(pixel_peaks)) or 1.0
    if unit.patches is not None and backbone is not None:
        channels = unit.patches.channels
        patch_peaks = [
            peak(
                unit.patch_map(
                    backbone_features(backbone, unit.normalise(r.image, r.mask, r.light), channels)
                )
                * unit.region
            )
            for regs in held
            for r in regs[:2]
        ]
        patch_scale = float(np.median(patch_peaks)) or 1.0
    return replace(model, pixel_scale=pixel_scale, patch_scale=patch_scale)


def raw_scores(
    model: LineModel,
    parts: Sequence[Sequence[PartCrop]],
    backbone: Backbone | None,
    feature_views: int,
) -> np.ndarray:
    """Each part's score as inspection computes it, before any threshold (0: no part)."""
    inspector = TaughtInspector(Taught(replace(model, threshold=1.0), {}), backbone, feature_views)
    return np.array([inspector.inspect(views).score or 0.0 for views in parts])


def with_threshold(
    model: LineModel, held_scores: np.ndarray, false_reject_rate: float
) -> LineModel:
    """`model` with the threshold that rejects `false_reject_rate` of good parts."""
    return replace(model, threshold=threshold_for(held_scores, false_reject_rate))
