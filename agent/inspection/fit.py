"""Fitting: a line's model learnt from the views of good parts, then calibrated.

`fit_line` picks the clean views (`selection`), takes the line's light from the parts
first fitted on and brings every clean view to it once (`prepared`), fits the
comparisons on most parts, scores every part, fits again without the parts unlike the
rest (defective parts in the "good" footage), and calibrates the map scales and the
threshold on the parts held out (`calibrate`). It returns the `Taught` line; `persist`
saves it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import cv2
import numpy as np

from agent.errors import UserError
from agent.inspection import FEATURE_VIEWS, PartCrop
from agent.inspection.calibrate import comparison_scores, raw_scores, scaled, with_thresholds
from agent.inspection.light import background_of, brightness_of, normalise
from agent.inspection.model import LineModel, PatchModel, PixelModel, Taught
from agent.inspection.prepared import Prepared, prepare
from agent.inspection.register import Appearance, Registered, build_appearance, build_reference
from agent.inspection.report import teach_report
from agent.inspection.runtime import Backbone
from agent.inspection.selection import Selection, select_views
from agent.inspection.threshold import outliers

logger = logging.getLogger(__name__)

#: Backbone channels kept per position (of all the manifest lists), PaDiM's random subset.
PATCH_CHANNELS = 48
#: Parts held out of fitting to set the threshold, as a fraction of those taught.
HOLDOUT_FRACTION = 0.3
#: The clean parts fall in this many folds (the held-out one, and the fitted parts
#: split alike), each scored by a model fitted without it, to set the threshold.
FOLDS = round(1 / HOLDOUT_FRACTION)
MIN_FIT_PARTS = 20
MIN_HOLDOUT_PARTS = 10
POSES = ("register", "fixed", "texture")
#: Sigma (canonical px) smoothing the patch map, so one busy patch is not a defect: on
#: scikit-image's gravel the rest of a tile's patches scored as high as a pasted blot
#: before it; on rendered lines a good part's lone patch (an edge cut a pixel off, a
#: belt seam beside it) rejected 15 good parts of 4171 at offsets 2 and 3, 7 with it.
PATCH_SIGMA = 2.0
#: Side (canonical px, about a ninth of the view) of the box whose local mean the
#: detail map takes off the pixel differences (`LineModel.pixel_maps`): a Gaussian of
#: sigma 4 did as well at three times the cost (docs/accuracy.md, session 14).
DETAIL_PX = 11


def split_parts(n: int, holdout_fraction: float = HOLDOUT_FRACTION) -> tuple[list[int], list[int]]:
    """Deterministic split of part indices into fit and held-out (spread over the footage)."""
    step = max(2, round(1 / holdout_fraction))
    held = [i for i in range(n) if i % step == step // 2]
    fit = [i for i in range(n) if i % step != step // 2]
    return fit, held


def _enough(count: int, what: str) -> None:
    fit_idx, held_idx = split_parts(count)
    if len(fit_idx) < MIN_FIT_PARTS or len(held_idx) < MIN_HOLDOUT_PARTS:
        need = MIN_FIT_PARTS + MIN_HOLDOUT_PARTS
        raise UserError(
            f"only {count} {what}; teach needs at least {need} good parts "
            "(record a few minutes of good production, and check [vision] roi)"
        )


def region_of(masks: np.ndarray, margin_px: int = 3) -> np.ndarray:
    """Where a defect counts: pixels any good view covered, widened by `margin_px`.

    The margin keeps a chipped edge (part pixels missing at the outline) inside.
    """
    covered = (masks.max(axis=0) > 0.5).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin_px + 1,) * 2)
    return (cv2.dilate(covered, kernel) > 0).astype(np.float32)


def fit_line(
    parts: Sequence[Sequence[PartCrop]],
    backbone: Backbone | None,
    false_reject_rate: float = 0.01,
    side: int = 96,
    feature_views: int = FEATURE_VIEWS,
    progress: Callable[[int], None] | None = None,
    seed: int = 0,
    pose: str = "register",
) -> Taught:
    """Learn a line from the views of good parts; calibrate on held-out good parts.

    `pose`: "register" brings every view to a canonical pose first (parts loose on a
    belt); "fixed" compares views as they are (a part held in a fixture); "texture"
    also compares them as they are, by their patches alone, with every backbone
    channel and a smoothed patch map (a surface that looks alike everywhere: web,
    sheet, weave; no pixel of it has a colour to expect).

    Raises:
        UserError: too few parts to fit and calibrate, or an unknown pose.
    """
    started = time.monotonic()
    _enough(len(parts), "good parts to learn from")
    _check_pose(pose, backbone)
    reference, appearance = _references(parts, side) if pose == "register" else (None, None)
    selection = select_views(parts, reference, side, pose == "register", appearance)
    (progress or (lambda n: None))(len(parts))
    _log_left_out(selection, len(parts))
    _enough(len(selection.parts), "clean parts (whole, alone and sharp in the crop)")
    clean, registered = selection.parts, selection.registered
    fit_idx, held_idx = split_parts(len(clean))
    line = line_light(
        [r for i in fit_idx for r in registered[i]], side, pose, selection.part_scale, reference
    )
    line = replace(line, patterned_belt=selection.patterned_belt)
    prepared = prepare(line, registered, backbone, patch_channels(backbone, pose, seed))

    def fitted(fit: list[int], scale_on: list[int] = held_idx) -> LineModel:
        """The model fitted on parts `fit`, its maps scaled on parts `scale_on`."""
        return scaled(fit_model(line, prepared, fit, pose), prepared, scale_on)

    model = fitted(fit_idx)
    odd = outliers(raw_scores(model, prepared, range(len(clean)), feature_views))
    if odd.any():
        # Defective parts in the "good" footage: learn without them and score again.
        model = fitted([i for i in fit_idx if not odd[i]])

    def scored_apart(fold: list[int]) -> np.ndarray:
        """`fold`'s comparison scores by a model fitted on the other clean parts."""
        out = set(fold)
        apart = fitted([i for i in range(len(clean)) if i not in out and not odd[i]], fold)
        return comparison_scores(apart, prepared, fold, feature_views)

    # Every clean part scored by a model that did not see it (the held-out third by the
    # model itself, the other thirds by models fitted without them), so the threshold's
    # fit rests on all the parts, not on a third (from a third, the pixel threshold of
    # the same look taught on three footages was 8-17 % off the one from all parts).
    folds = [held_idx] + [fit_idx[k :: FOLDS - 1] for k in range(FOLDS - 1)]
    held = comparison_scores(model, prepared, held_idx, feature_views)
    scores = np.concatenate([held] + [scored_apart(fold) for fold in folds[1:]])
    order = [i for fold in folds for i in fold]
    model, held_scores = with_thresholds(model, scores, false_reject_rate)
    info = _info(selection, fit_idx, order, odd, held_scores, model, false_reject_rate)
    info["teach_s"] = round(time.monotonic() - started, 2)
    # The report describes good parts: parts unlike the rest are left out of it.
    good = held_scores[~odd[order]] if (~odd[order]).any() else held_scores
    report = teach_report(selection, odd, good, model.threshold, registered, false_reject_rate)
    logger.info("taught on %d parts (each scored by a model fitted without it)", len(clean))
    return Taught(model, info, report)


def _check_pose(pose: str, backbone: Backbone | None) -> None:
    if pose not in POSES:
        raise UserError(f"unknown inspection pose {pose!r} (one of {', '.join(POSES)})")
    if pose == "texture" and backbone is None:
        raise UserError("texture inspection needs the backbone")


def _references(parts: Sequence[Sequence[PartCrop]], side: int) -> tuple[np.ndarray, Appearance]:
    """The rotation reference and the part's look (from the first fitted parts' clean views)."""
    fit_idx, _ = split_parts(len(parts))
    crops = [v for i in fit_idx[:40] for v in parts[i] if not (v.touching or v.clipped)]
    try:
        reference = build_reference(crops)
        return reference, build_appearance(crops, reference, side)
    except ValueError:
        raise UserError("no part could be found in the views of the parts counted") from None


def _log_left_out(selection: Selection, seen: int) -> None:
    if selection.parts_left_out:
        logger.info(
            "teach: left out %d of %d parts (%s)",
            sum(selection.parts_left_out.values()),
            seen,
            ", ".join(f"{k} {v}" for k, v in selection.parts_left_out.items()),
        )


def _info(
    selection: Selection,
    fit_idx: list[int],
    held_idx: list[int],
    odd: np.ndarray,
    held_scores: np.ndarray,
    model: LineModel,
    false_reject_rate: float,
) -> dict[str, Any]:
    """How the line was taught, for the model's manifest."""
    return {
        "parts": len(selection.parts),
        "fit_parts": len(fit_idx) - int(odd[fit_idx].sum()),
        "held_out_parts": len(held_idx),
        "views": sum(len(r) for r in selection.registered),
        "false_reject_rate": false_reject_rate,
        "threshold": model.threshold,
        "held_out_scores_max": float(held_scores.max()),
    }


def patch_channels(backbone: Backbone | None, pose: str, seed: int) -> np.ndarray | None:
    """The backbone channels the patches compare (None: no backbone)."""
    if backbone is None:
        return None
    # Textures need every channel; registered parts do as well with a third of them.
    wanted = backbone.channels if pose == "texture" else PATCH_CHANNELS
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(backbone.channels, size=wanted, replace=False))


def line_light(
    views: list[Registered],
    side: int,
    pose: str,
    part_scale: float,
    reference: np.ndarray | None,
) -> LineModel:
    """The line's model before any comparison: its pose and the light, from `views`.

    Every model teach fits shares this light (`prepared`): taken from the views of the
    parts first fitted on, those later found unlike the rest included (medians over
    hundreds of views, which a few odd parts barely move), so each view is normalised
    once per teach.
    """
    masks = np.stack([r.mask for r in views])
    body = masks.mean(axis=0) > 0.95
    brightness = float(np.median([brightness_of(r.image, body) for r in views]))
    background = None
    if pose == "register":
        images = np.stack([normalise(r.image, body, brightness) for r in views])
        background = background_of(images, masks)
    lights = [r.light for r in views if r.light]
    # the light parts were seen under, when the pipeline said for most views
    light = float(np.median(lights)) if len(lights) > len(views) // 2 else 0.0
    return LineModel(
        side=side,
        region=region_of(masks),
        pixels=None,
        patches=None,
        part_scale=part_scale,
        patch_sigma=PATCH_SIGMA,
        detail_px=DETAIL_PX if pose != "texture" else 0,
        body=body,
        brightness=brightness,
        background=background,
        light=light,
        reference=reference,
    )


def fit_model(line: LineModel, prepared: Prepared, fit: Sequence[int], pose: str) -> LineModel:
    """The comparisons fitted on parts `fit`, before calibration (scales and threshold 1)."""
    views, images = prepared.views(fit)
    features = prepared.features_of(fit)
    patches = None
    if features is not None and prepared.channels is not None:
        patches = PatchModel.fit(np.stack(features), prepared.channels)
    return replace(
        line,
        region=region_of(np.stack([r.mask for r in views])),
        pixels=None if pose == "texture" else PixelModel.fit(np.stack(images)),
        patches=patches,
    )
