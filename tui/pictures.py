"""Defect pictures: the stored image of a rejected part, with its heatmap blended in.

The agent keeps a rejected part's picture as an image file; when a heatmap is kept
beside it (`NAME.heatmap.png` / `NAME_heatmap.png`, grey levels 0..255, or
`NAME.heatmap.npy`, floats 0..1) it is coloured (red = unusual) and blended over
the picture here, so a supervisor sees where the defect is.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)

HEATMAP_SUFFIXES = (".heatmap.png", "_heatmap.png", ".heatmap.npy", "_heatmap.npy")


def heatmap_path(picture: Path) -> Path | None:
    """The heatmap file kept beside a picture, if any."""
    stem = picture.with_suffix("")
    for suffix in HEATMAP_SUFFIXES:
        candidate = stem.parent / (stem.name + suffix)
        if candidate.is_file():
            return candidate
    return None


def blend(picture: np.ndarray, heat: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """RGB picture (H×W×3 uint8) with a 0..1 heatmap coloured blue→red over it."""
    h, w = picture.shape[:2]
    if heat.shape[:2] != (h, w):
        heat = (
            np.asarray(
                Image.fromarray((np.clip(heat, 0, 1) * 255).astype(np.uint8)).resize((w, h)),
                dtype=np.float32,
            )
            / 255.0
        )
    heat = np.clip(heat.astype(np.float32), 0.0, 1.0)
    colour = np.stack([heat, 1.0 - np.abs(heat - 0.5) * 2, 1.0 - heat], axis=-1) * 255
    weight = (alpha * heat)[..., None]
    out = picture.astype(np.float32) * (1 - weight) + colour * weight
    return np.clip(out, 0, 255).astype(np.uint8)


def load_picture(path: str | Path | None, base: Path | None = None) -> Image.Image | None:
    """The picture at `path` (relative to `base`), heatmap blended in; None if unreadable."""
    if not path:
        return None
    file = Path(path)
    if not file.is_absolute() and base is not None:
        file = base / file
    try:
        rgb = np.asarray(Image.open(file).convert("RGB"))
    except (OSError, ValueError) as exc:
        logger.info("cannot read picture %s: %s", file, exc)
        return None
    heat_file = heatmap_path(file)
    if heat_file is not None:
        try:
            if heat_file.suffix == ".npy":
                heat = np.load(heat_file, allow_pickle=False).astype(np.float32)
            else:
                heat = np.asarray(Image.open(heat_file).convert("L"), dtype=np.float32) / 255
            rgb = blend(rgb, heat)
        except (OSError, ValueError) as exc:
            logger.info("cannot read heatmap %s: %s", heat_file, exc)
    return Image.fromarray(rgb)
