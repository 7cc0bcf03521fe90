"""Frame validation: empty, truncated, black or wrongly sized frames are counted and skipped."""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

#: The kinds of bad frame, in the order they are checked.
INVALID_KINDS = ("empty", "truncated", "black", "wrong_size")


class FrameValidator:
    """Decides whether an image is a usable frame, counting each kind of rejection.

    The first good frame fixes the expected size; later frames of another size are
    `wrong_size` (the configured ROI is in that frame's pixels). A frame whose brightest
    pixel is at most `black_level` is `black` (lens covered, sensor or decoder failure).
    """

    def __init__(self, black_level: int = 4) -> None:
        self.black_level = black_level
        self.size: tuple[int, int] | None = None  # (width, height) of the first good frame
        self.counts: dict[str, int] = dict.fromkeys(INVALID_KINDS, 0)

    def problem(self, image: object) -> str | None:
        """The kind of problem with `image` (one of `INVALID_KINDS`), or None if usable."""
        if not isinstance(image, np.ndarray) or image.size == 0:
            return "empty"
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            return "truncated"
        height, width = image.shape[:2]
        if self.size is not None and (width, height) != self.size:
            return "wrong_size"
        if _brighter_than(image, self.black_level):
            return None
        return "black"

    def accept(self, image: object) -> bool:
        """True when `image` is usable; otherwise count its problem and return False."""
        kind = self.problem(image)
        if kind is None:
            if self.size is None:
                assert isinstance(image, np.ndarray)
                self.size = (image.shape[1], image.shape[0])
            return True
        self.counts[kind] += 1
        if self.counts[kind] == 1 or self.counts[kind] % 1000 == 0:
            logger.warning("skipped a %s frame (%d so far)", kind, self.counts[kind])
        return False

    @property
    def invalid(self) -> int:
        """All rejected frames."""
        return sum(self.counts.values())


#: Every how many rows the first look for a lit pixel reads (contiguous rows: cheap).
_SAMPLE_ROWS = 16


def _brighter_than(image: np.ndarray, level: int) -> bool:
    """Whether any pixel of `image` is above `level`.

    A lit frame nearly always shows it in a sample of its rows, a sixteenth of the
    cost of the whole frame's maximum; only a frame dark there is read whole.
    """
    return int(image[::_SAMPLE_ROWS].max()) > level or int(image.max()) > level
