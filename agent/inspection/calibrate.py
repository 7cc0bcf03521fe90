"""Calibration: a fitted model's map scales and thresholds, from held-out good parts.

Each step returns a new `LineModel`; the fitted one is left as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from agent.inspection.inspector import TaughtInspector, part_score
from agent.inspection.model import LineModel, Taught
from agent.inspection.prepared import Prepared
from agent.inspection.threshold import median_peak, peak, threshold_for

#: The comparisons a part is scored by (`ViewMaps`' maps, each with its `<name>_scale`).
COMPARISONS = ("pixel", "detail", "patch")


def scaled(model: LineModel, prepared: Prepared, held: Sequence[int]) -> LineModel:
    """`model` with each map's scale: the median peak on held-out good parts' views.

    Each map then reads "1 = typical of good parts", so their maximum is fair.
    """
    unit = replace(model, pixel_scale=1.0, patch_scale=1.0, detail_scale=1.0)
    pixel_scale = patch_scale = detail_scale = 1.0
    if unit.pixels is not None:
        views, images = prepared.views(held)
        maps = [unit.pixel_maps(image, r.mask) for r, image in zip(views, images, strict=True)]
        pixel_scale = float(np.median([peak(unit.combine(p, None)) for p, _ in maps])) or 1.0
        detail_peaks = [peak(unit.combine(d, None)) for _, d in maps if d is not None]
        if detail_peaks:
            detail_scale = float(np.median(detail_peaks)) or 1.0
    if unit.patches is not None and prepared.features is not None:
        patch_peaks = [
            peak(unit.patch_map(features) * unit.region)
            for i in held
            for features in prepared.features[i][:2]
        ]
        patch_scale = float(np.median(patch_peaks)) or 1.0
    return replace(
        model, pixel_scale=pixel_scale, patch_scale=patch_scale, detail_scale=detail_scale
    )


def comparison_scores(
    model: LineModel, prepared: Prepared, parts: Sequence[int], feature_views: int
) -> np.ndarray:
    """Each of `parts`' score by each of `COMPARISONS`, N x 3, in the model's map units.

    A comparison's score is its median peak over the views it ran on (NaN: none).
    """
    inspector = TaughtInspector(Taught(model, {}), None, feature_views)
    out = np.full((len(parts), len(COMPARISONS)), np.nan)
    for i, part in enumerate(parts):
        maps = prepared.view_maps(inspector, part)
        for j, name in enumerate(COMPARISONS):
            score = median_peak([m for v in maps if (m := getattr(v, name)) is not None])
            if score is not None:
                out[i, j] = score
    return out


def raw_scores(
    model: LineModel, prepared: Prepared, parts: Sequence[int], feature_views: int
) -> np.ndarray:
    """Each of `parts`' score as inspection computes it, before any threshold (0: no part)."""
    inspector = TaughtInspector(Taught(model, {}), None, feature_views)
    maps = [prepared.view_maps(inspector, part) for part in parts]
    return np.array([part_score(m) if m else 0.0 for m in maps])


def with_thresholds(
    model: LineModel, held: np.ndarray, false_reject_rate: float
) -> tuple[LineModel, np.ndarray]:
    """`model` with each comparison's own threshold, and held-out parts' scores under it.

    `held` is `comparison_scores` of held-out good parts. Each comparison's scale
    becomes the score that rejects `false_reject_rate` of good parts by it alone
    (robust fit, `threshold_for`), and the threshold 1: the patches, judged on one
    view, scatter wider over good parts than the pixels' median of three, and one
    threshold on the larger of the two would let the wider one's good parts through
    only by holding the other's defects back. (Each given half the rate, since either
    comparison rejects a part, was measured: one good part in a hundred fewer on calm
    lines, and faint defects missed on others; docs/accuracy.md.) Returns the model
    and each held-out part's score (the largest of its comparisons', 1 = threshold).
    """
    judging = [column[~np.isnan(column)] for column in held.T]
    limits = [threshold_for(k, false_reject_rate) if k.size else np.nan for k in judging]
    scales = {
        f"{name}_scale": getattr(model, f"{name}_scale") * (1.0 if np.isnan(limit) else limit)
        for name, limit in zip(COMPARISONS, limits, strict=True)
    }
    calibrated = replace(model, **scales, threshold=1.0)
    with np.errstate(invalid="ignore"):
        scores = np.nanmax(held / np.where(np.isnan(limits), 1.0, limits), axis=1)
    return calibrated, np.nan_to_num(scores, nan=0.0)
