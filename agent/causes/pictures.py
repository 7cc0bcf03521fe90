"""Stop pictures: the ROI at a stop's start, kept beside the store, bounded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agent.inspection.pictures import keep_png


def save_stop_picture(picture: np.ndarray, folder: Path, stop_id: str, keep: int) -> Path | None:
    """Write `<stop_id>.png` in `folder` and keep only the newest `keep` (0: none kept).

    Returns the path, or None when nothing was written.
    """
    if keep <= 0:
        return None
    return keep_png(picture, folder, stop_id, keep, "stop picture")
