"""Defect pictures: the part's crop with its anomaly heatmap, kept for review (bounded)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from agent.files import write_atomic
from agent.inspection import Verdict

if TYPE_CHECKING:
    from agent.config import Config

logger = logging.getLogger(__name__)

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def overlay(crop: np.ndarray, heatmap: np.ndarray | None, alpha: float = 0.45) -> np.ndarray:
    """The crop (BGR uint8) with a JET-coloured heatmap blended where it is warm."""
    if heatmap is None:
        return crop.copy()
    heat = cv2.resize(heatmap.astype(np.float32), (crop.shape[1], crop.shape[0]))
    colour = cv2.applyColorMap((np.clip(heat, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)
    # Colour only what approaches the threshold (0.5); below 0.25 the crop shows as is.
    weight = (alpha * np.clip((heat - 0.25) * 4.0, 0, 1))[:, :, None]
    return (crop * (1 - weight) + colour * weight).astype(np.uint8)


def save_defect_picture(
    verdict: Verdict, images_dir: Path, part_id: str, keep: int = 1000
) -> Path | None:
    """Write `<part_id>.png` (crop beside crop + heatmap) and keep only the newest `keep`.

    Returns None when the verdict has no crop or `keep` is 0.
    """
    if verdict.crop is None or keep <= 0:
        return None
    images_dir = Path(images_dir)
    images_dir.mkdir(parents=True, exist_ok=True)
    crop = verdict.crop
    picture = np.hstack([crop, overlay(crop, verdict.heatmap)])
    scale = max(1, 192 // max(crop.shape[:2]))
    if scale > 1:
        picture = cv2.resize(picture, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    return keep_png(picture, images_dir, part_id, keep, "defect picture")


def keep_png(picture: np.ndarray, folder: Path, name: str, keep: int, what: str) -> Path | None:
    """Write `<name>.png` in `folder` (made if missing), then keep only the newest `keep`.

    Returns the path, or None when it could not be written (logged as `what`).
    """
    path = Path(folder) / f"{_SAFE.sub('_', name)}.png"
    ok, png = cv2.imencode(".png", picture)
    try:
        if not ok:
            raise OSError("PNG encoding failed")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, png.tobytes())
    except OSError as exc:
        logger.warning("could not write %s %s: %s", what, path, exc)
        return None
    prune(path.parent, keep)
    return path


def prune(images_dir: Path, keep: int) -> int:
    """Delete the oldest PNGs beyond `keep`; returns how many went."""
    pictures = sorted(
        Path(images_dir).glob("*.png"),  # a picture being written is `.NAME.png.tmp`
        key=lambda p: (p.stat().st_mtime_ns, p.name),
    )
    excess = pictures[: max(0, len(pictures) - keep)]
    for p in excess:
        p.unlink(missing_ok=True)
    return len(excess)


def picture_saver(config: Config) -> Callable[[Verdict, str], Path | None]:
    """`save(verdict, part_id)` for the line's `images_dir`, bounded by `keep_images`."""

    def save(verdict: Verdict, part_id: str) -> Path | None:
        return save_defect_picture(
            verdict, config.images_dir, part_id, keep=config.inspection.keep_images
        )

    return save
