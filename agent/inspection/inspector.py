"""The taught inspector: register each view, compare it with the line's model, decide.

`fit_line` learns a `LineModel` from the views of good parts (and calibrates its
threshold on held-out good parts); `TaughtInspector` gives each counted part a verdict.
`save_taught` / `load_taught` keep a taught line in a folder with its own manifest,
written atomically.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from agent.errors import UserError
from agent.inspection import PartCrop, Verdict
from agent.inspection.classifier import CLASSIFIER_FILE, DefectClassifier
from agent.inspection.model import (
    LineModel,
    PatchModel,
    PixelModel,
    background_of,
    brightness_of,
    normalise,
    outliers,
    part_score,
    peak,
    region_of,
    stack_features,
    threshold_for,
)
from agent.inspection.register import Registered, build_reference, place
from agent.inspection.report import REPORT_FILE, teach_report
from agent.inspection.runtime import Backbone, file_sha256
from agent.inspection.selection import Selection, select_views

logger = logging.getLogger(__name__)

FORMAT = "oee-inspection-line/1"
MODEL_FILE = "line_model.npz"
MANIFEST_FILE = "manifest.json"
#: Backbone channels kept per position (of 40 + 112), PaDiM's random subset.
PATCH_CHANNELS = 48
#: Parts held out of fitting to set the threshold, as a fraction of those taught.
HOLDOUT_FRACTION = 0.3
MIN_FIT_PARTS = 20
#: Views of a part scored (the middle ones of those the pipeline gathered).
MAX_VIEWS = 3
POSES = ("register", "fixed", "texture")
MIN_HOLDOUT_PARTS = 10


@dataclass
class Taught:
    """A taught line: its model and rotation reference, and how it was taught."""

    model: LineModel
    reference: np.ndarray | None  # rfft of the reference silhouette; None: fixed pose
    info: dict[str, Any]
    #: What teach saw, used and left out, and its warnings (`report.teach_report`).
    report: dict[str, Any] | None = None


def _features(backbone: Backbone, image: np.ndarray, channels: np.ndarray) -> np.ndarray:
    feats = backbone.features(np.clip(image, 0, 255).astype(np.uint8))
    return stack_features(feats.stride8, feats.stride16, channels)


def _middle(n: int, wanted: int) -> list[int]:
    """The indices of the `wanted` middle items of `n` (best framed views), in order."""
    if wanted <= 0 or n == 0:
        return []
    order = sorted(range(n), key=lambda i: abs(i - (n - 1) / 2))
    return sorted(order[:wanted])


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
        return [views[i] for i in _middle(len(views), self.max_views)]

    def view_maps(self, views: Sequence[PartCrop]) -> list[tuple[Registered, np.ndarray]]:
        """Each view found in pose with its anomaly map (views with no part are skipped)."""
        # The views nearest the crossing are the best framed; a median of three
        # already ignores one bad frame, and each view costs a few milliseconds.
        chosen = self._chosen([v for v in views if not (v.touching or v.clipped)] or views)
        registered = [place(v, self.taught.reference, self.model.side) for v in chosen]
        found = [r for r in registered if r is not None]
        if self.model.part_scale:
            # Prefer views showing the whole part alone; a part that is wrong in every
            # view (half of it missing) is still scored on what there is.
            whole = [r for r in found if _plausible(r.pose.scale, self.model.part_scale)]
            found = whole or found
        with_features = set(_middle(len(found), self.feature_views))
        out = []
        for i, reg in enumerate(found):
            image = self.model.normalise(reg.image, reg.mask)
            patch = None
            if self.backbone is not None and i in with_features:
                assert self.model.patches is not None
                feats = _features(self.backbone, image, self.model.patches.channels)
                patch = self.model.patch_map(feats)
            out.append((reg, self.model.combine(self.model.pixel_map(image), patch)))
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


def _enough(count: int, what: str) -> None:
    fit_idx, held_idx = split_parts(count)
    if len(fit_idx) < MIN_FIT_PARTS or len(held_idx) < MIN_HOLDOUT_PARTS:
        need = MIN_FIT_PARTS + MIN_HOLDOUT_PARTS
        raise UserError(
            f"only {count} {what}; teach needs at least {need} good parts "
            "(record a few minutes of good production, and check [vision] roi)"
        )


def _plausible(scale: float, typical: float, tolerance: float = 0.2) -> bool:
    return abs(scale / typical - 1.0) <= tolerance


def split_parts(n: int, holdout_fraction: float = HOLDOUT_FRACTION) -> tuple[list[int], list[int]]:
    """Deterministic split of part indices into fit and held-out (spread over the footage)."""
    step = max(2, round(1 / holdout_fraction))
    held = [i for i in range(n) if i % step == step // 2]
    fit = [i for i in range(n) if i % step != step // 2]
    return fit, held


def fit_line(
    parts: Sequence[Sequence[PartCrop]],
    backbone: Backbone | None,
    false_reject_rate: float = 0.01,
    side: int = 96,
    feature_views: int = 1,
    progress: Callable[[int], None] | None = None,
    seed: int = 0,
    pose: str = "register",
) -> Taught:
    """Learn a line from the views of good parts; calibrate on held-out good parts.

    Only clean views are learnt from (`selection.select_views`). The model is fitted,
    every part scored, the parts that score unlike the rest (defective parts in the
    "good" footage) dropped, and the model fitted again; the threshold comes from a
    robust fit of the held-out parts' scores (`model.threshold_for`).

    `pose`: "register" brings every view to a canonical pose first (parts loose on a
    belt); "fixed" compares views as they are (a part held in a fixture); "texture"
    also compares them as they are, with every backbone channel and a wider smoothing
    of the pixel map (a surface that looks alike everywhere: web, sheet, weave).

    Raises:
        UserError: too few parts to fit and calibrate.
    """
    started = time.monotonic()
    tick = progress or (lambda n: None)
    _enough(len(parts), "good parts to learn from")
    fit_idx, _ = split_parts(len(parts))
    reference = None
    if pose not in POSES:
        raise UserError(f"unknown inspection pose {pose!r} (one of {', '.join(POSES)})")
    if pose == "texture" and backbone is None:
        raise UserError("texture inspection needs the backbone")
    register_parts = pose == "register"
    if register_parts:
        crops = [v for i in fit_idx[:40] for v in parts[i] if not (v.touching or v.clipped)]
        try:
            reference = build_reference(crops)
        except ValueError:
            raise UserError("no part could be found in the views of the parts counted") from None
    selection = select_views(parts, reference, side, judge=register_parts)
    tick(len(parts))
    if selection.parts_left_out:
        logger.info(
            "teach: left out %d of %d parts (%s)",
            sum(selection.parts_left_out.values()),
            len(parts),
            ", ".join(f"{k} {v}" for k, v in selection.parts_left_out.items()),
        )
    _enough(len(selection.parts), "clean parts (whole, alone and sharp in the crop)")
    clean, registered = selection.parts, selection.registered
    fit_idx, held_idx = split_parts(len(clean))

    def fitted(fit: list[int]) -> tuple[LineModel, TaughtInspector]:
        model = _fit_model(
            [r for i in fit for r in registered[i]], backbone, side, pose, seed, selection
        )
        inspector = TaughtInspector(Taught(model, reference, {}), backbone, feature_views)
        _set_scales(model, [registered[i] for i in held_idx], backbone)
        return model, inspector

    model, inspector = fitted(fit_idx)
    first = np.array([inspector.inspect(clean[i]).score or 0.0 for i in range(len(clean))])
    odd = outliers(first)
    if odd.any():
        # Defective parts in the "good" footage: learn without them and score again.
        model, inspector = fitted([i for i in fit_idx if not odd[i]])
    held_scores = np.array([inspector.inspect(clean[i]).score or 0.0 for i in held_idx])
    model.threshold = threshold_for(held_scores, false_reject_rate)
    info = {
        "parts": len(clean),
        "fit_parts": len(fit_idx) - int(odd[fit_idx].sum()),
        "held_out_parts": len(held_idx),
        "views": sum(len(r) for r in registered),
        "false_reject_rate": false_reject_rate,
        "threshold": model.threshold,
        "held_out_scores_max": float(held_scores.max()),
        "teach_s": round(time.monotonic() - started, 2),
    }
    # The report describes good parts: held-out parts unlike the rest are left out of it.
    good_held = held_scores[~odd[held_idx]] if (~odd[held_idx]).any() else held_scores
    report = teach_report(selection, odd, good_held, model.threshold, registered)
    logger.info("taught on %d parts (%d held out)", len(clean), len(held_idx))
    return Taught(model, reference, info, report)


def _fit_model(
    views: list[Registered],
    backbone: Backbone | None,
    side: int,
    pose: str,
    seed: int,
    selection: Selection,
) -> LineModel:
    masks = np.stack([r.mask for r in views])
    body = masks.mean(axis=0) > 0.95
    brightness = float(np.median([brightness_of(r.image, body) for r in views]))
    images = np.stack([normalise(r.image, body, brightness) for r in views])
    background = background_of(images, masks) if pose == "register" else None
    if background is not None:
        # as inspection will see them: the light read off the belt, the part alone
        probe = LineModel(
            side,
            region_of(masks),
            None,
            None,
            body=body,
            brightness=brightness,
            background=background,
        )
        images = np.stack([probe.normalise(r.image, r.mask) for r in views])
    pixels = PixelModel.fit(images)
    patches = None
    if backbone is not None:
        rng = np.random.default_rng(seed)
        # Textures need every channel; registered parts do as well with a third of them.
        wanted = 40 + 112 if pose == "texture" else PATCH_CHANNELS
        channels = np.sort(rng.choice(40 + 112, size=wanted, replace=False))
        feats = np.stack([_features(backbone, image, channels) for image in images])
        patches = PatchModel.fit(feats, channels)
    return LineModel(
        side=side,
        region=region_of(masks),
        pixels=pixels,
        patches=patches,
        part_scale=selection.part_scale,
        smooth_px=7 if pose == "texture" else 3,
        body=body,
        brightness=brightness,
        background=background,
    )


def _set_scales(model: LineModel, held: list[list[Registered]], backbone: Backbone | None) -> None:
    """Each map's scale: the median peak on held-out good views, so both read "1 = typical"."""
    model.pixel_scale = model.patch_scale = 1.0
    if model.pixels is not None:
        pixel_peaks = [
            peak(model.combine(model.pixel_map(model.normalise(r.image, r.mask)), None))
            for regs in held
            for r in regs
        ]
        model.pixel_scale = float(np.median(pixel_peaks)) or 1.0
    if model.patches is not None and backbone is not None:
        patch_peaks = [
            peak(
                model.patch_map(
                    _features(backbone, model.normalise(r.image, r.mask), model.patches.channels)
                )
                * model.region
            )
            for regs in held
            for r in regs[:2]
        ]
        model.patch_scale = float(np.median(patch_peaks)) or 1.0


# ---- persistence -----------------------------------------------------------------


def save_taught(taught: Taught, model_dir: Path, backbone: Backbone | None) -> Path:
    """Write a taught line into `model_dir` atomically: a temporary folder, fsync, rename.

    A reader sees the old model or the new one, never a half-written one.
    """
    model_dir = Path(model_dir)
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{model_dir.name}.tmp-", dir=model_dir.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the model is no secret
        m = taught.model
        arrays: dict[str, np.ndarray] = {
            "region": m.region,
        }
        if m.pixels is not None:
            arrays["pixel_mean"] = m.pixels.mean
            arrays["pixel_sigma"] = m.pixels.sigma
        if m.body is not None:
            arrays["body"] = m.body
        if m.background is not None:
            arrays["background"] = m.background
        if taught.reference is not None:
            arrays["reference_real"] = taught.reference.real.astype(np.float32)
            arrays["reference_imag"] = taught.reference.imag.astype(np.float32)
        if m.patches is not None:
            arrays |= {
                "patch_channels": m.patches.channels,
                "patch_mean": m.patches.mean,
                "patch_inv_cov": m.patches.inv_cov,
            }
        with open(tmp / MODEL_FILE, "wb") as f:
            np.savez_compressed(f, **arrays)  # type: ignore[arg-type]
            f.flush()
            os.fsync(f.fileno())
        manifest = {
            "format": FORMAT,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": {MODEL_FILE: file_sha256(tmp / MODEL_FILE)},
            "side": m.side,
            "pixel_scale": m.pixel_scale,
            "patch_scale": m.patch_scale,
            "threshold": m.threshold,
            "part_scale": m.part_scale,
            "smooth_px": m.smooth_px,
            "brightness": m.brightness,
            "backbone": None
            if m.patches is None or backbone is None
            else {"name": backbone.path.stem, "sha256": backbone.manifest["sha256"]},
            "teach": taught.info,
        }
        if taught.report is not None:
            with open(tmp / REPORT_FILE, "w") as f:
                f.write(json.dumps(taught.report, indent=2) + "\n")
                f.flush()
                os.fsync(f.fileno())
        with open(tmp / MANIFEST_FILE, "w") as f:
            f.write(json.dumps(manifest, indent=2) + "\n")
            f.flush()
            os.fsync(f.fileno())
        # A defect classifier trained for this line outlives re-teaching.
        for name in (CLASSIFIER_FILE, Path(CLASSIFIER_FILE).with_suffix(".json").name):
            if (model_dir / name).is_file():
                shutil.copy2(model_dir / name, tmp / name)
        _fsync_dir(tmp)
        old = None
        if model_dir.exists():
            old = model_dir.parent / f".{model_dir.name}.old-{os.getpid()}"
            os.replace(model_dir, old)
        os.replace(tmp, model_dir)
        _fsync_dir(model_dir.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return model_dir


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def has_taught(model_dir: Path | None) -> bool:
    """Whether `model_dir` holds a complete taught model (its manifest is written last)."""
    return model_dir is not None and (Path(model_dir) / MANIFEST_FILE).is_file()


def load_taught(model_dir: Path) -> tuple[Taught, str | None]:
    """Read a taught line; returns it and the backbone name it needs (None: pixels only).

    Raises:
        UserError: the folder's files do not match its manifest.
    """
    model_dir = Path(model_dir)
    reteach = (
        f"teach the line again (oee-agent teach VIDEO --config LINE.toml) to replace {model_dir}"
    )
    try:
        manifest = json.loads((model_dir / MANIFEST_FILE).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"inspection model manifest unreadable ({exc}): {reteach}") from None
    if manifest.get("format") != FORMAT:
        raise UserError(f"{model_dir} holds an unknown model format: {reteach}")
    path = model_dir / MODEL_FILE
    if not path.is_file() or file_sha256(path) != manifest["files"].get(MODEL_FILE):
        raise UserError(f"{path} is missing or does not match its manifest: {reteach}")
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    patches = None
    if "patch_mean" in arrays:
        patches = PatchModel(
            arrays["patch_channels"], arrays["patch_mean"], arrays["patch_inv_cov"]
        )
    model = LineModel(
        side=int(manifest["side"]),
        region=arrays["region"],
        pixels=PixelModel(arrays["pixel_mean"], arrays["pixel_sigma"])
        if "pixel_mean" in arrays
        else None,
        patches=patches,
        pixel_scale=float(manifest["pixel_scale"]),
        patch_scale=float(manifest["patch_scale"]),
        threshold=float(manifest["threshold"]),
        part_scale=float(manifest.get("part_scale", 0.0)),
        smooth_px=int(manifest.get("smooth_px", 3)),
        body=arrays.get("body"),
        brightness=float(manifest.get("brightness", 0.0)),
        background=arrays.get("background"),
    )
    reference = None
    if "reference_real" in arrays:
        reference = arrays["reference_real"] + 1j * arrays["reference_imag"]
    backbone = manifest.get("backbone")
    return Taught(model, reference, manifest.get("teach", {})), (
        backbone["name"] if backbone else None
    )
