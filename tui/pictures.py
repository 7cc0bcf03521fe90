"""Defect pictures: the image the agent kept for a rejected part.

The agent writes one PNG per rejected part (`agent.inspection.pictures`): the part's
crop beside the same crop with its anomaly heatmap blended in (JET colours: red is
where the part differs from good ones). The store keeps its path; a relative path is
taken against the store's folder first, then the working folder.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PIL import Image

logger = logging.getLogger(__name__)


def picture_path(path: str | Path, base: Path | None = None) -> Path:
    """Where the picture is: relative paths against the store's folder when it is there."""
    file = Path(path)
    if not file.is_absolute() and base is not None and (base / file).is_file():
        return base / file
    return file


def load_picture(path: str | Path | None, base: Path | None = None) -> Image.Image | None:
    """The picture at `path` as RGB, or None when there is none or it cannot be read."""
    if not path:
        return None
    file = picture_path(path, base)
    try:
        with Image.open(file) as image:
            return image.convert("RGB")
    except (OSError, ValueError) as exc:
        logger.info("cannot read picture %s: %s", file, exc)
        return None
