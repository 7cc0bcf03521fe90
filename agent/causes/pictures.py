"""Stop pictures: the ROI at a stop's start, kept beside the store, bounded."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import cv2
import numpy as np

from agent.files import write_atomic
from agent.inspection.pictures import prune

logger = logging.getLogger(__name__)

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def save_stop_picture(picture: np.ndarray, folder: Path, stop_id: str, keep: int) -> Path | None:
    """Write `<stop_id>.png` in `folder` and keep only the newest `keep` (0: none kept).

    Returns the path, or None when nothing was written.
    """
    if keep <= 0:
        return None
    folder = Path(folder)
    path = folder / f"{_SAFE.sub('_', stop_id)}.png"
    ok, png = cv2.imencode(".png", picture)
    try:
        if not ok:
            raise OSError("PNG encoding failed")
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(path, png.tobytes())
    except OSError as exc:
        logger.warning("could not write stop picture %s: %s", path, exc)
        return None
    prune(folder, keep)
    return path
