"""A camera frame in half-block cells, with the ROI, count line and flow drawn over it.

Each cell shows two pixels (upper half-block: foreground the top one, background the
bottom one), so an 80×24 terminal shows a 78×40-pixel view: enough to place a region.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

ARROWS = {
    "left_to_right": "→",
    "right_to_left": "←",
    "top_to_bottom": "↓",
    "bottom_to_top": "↑",
}
ROI_RGB = (255, 220, 0)
LINE_RGB = (255, 0, 255)


def scaled_overlay(
    frame: np.ndarray,
    cols: int,
    rows: int,
    roi: tuple[int, int, int, int],
    direction: str,
    count_at: float,
) -> np.ndarray:
    """The frame resized to cols×(2·rows) pixels with the ROI and count line drawn."""
    import cv2

    h, w = frame.shape[:2]
    ph = rows * 2
    small = cv2.resize(frame, (cols, ph), interpolation=cv2.INTER_AREA)
    sx, sy = cols / w, ph / h
    x, y, rw, rh = roi
    x0, y0 = int(x * sx), int(y * sy)
    x1, y1 = min(cols - 1, int((x + rw) * sx)), min(ph - 1, int((y + rh) * sy))
    small[y0, x0 : x1 + 1] = ROI_RGB
    small[y1, x0 : x1 + 1] = ROI_RGB
    small[y0 : y1 + 1, x0] = ROI_RGB
    small[y0 : y1 + 1, x1] = ROI_RGB
    if direction in ("left_to_right", "right_to_left"):
        frac = count_at if direction == "left_to_right" else 1 - count_at
        cx = x0 + int((x1 - x0) * frac)
        small[y0 : y1 + 1, cx] = LINE_RGB
    else:
        frac = count_at if direction == "top_to_bottom" else 1 - count_at
        cy = y0 + int((y1 - y0) * frac)
        small[cy, x0 : x1 + 1] = LINE_RGB
    return small


class FrameView(Widget):
    """Draws an RGB frame and the setup overlay at the widget's size."""

    def __init__(self, *, id: str | None = None, overlay: bool = True) -> None:  # noqa: A002
        super().__init__(id=id)
        self.overlay = overlay
        self.frame: np.ndarray | None = None
        self.roi = (0, 0, 8, 8)
        self.direction = "left_to_right"
        self.count_at = 0.5
        self._image: Any = None
        #: The overlay drawn at (size, roi, direction, count_at), kept until one changes.
        self._cache: tuple[tuple[object, ...], np.ndarray] | None = None

    def set_view(
        self,
        frame: np.ndarray | None,
        roi: tuple[int, int, int, int],
        direction: str,
        count_at: float,
    ) -> None:
        """Change what is drawn."""
        self.frame, self.roi, self.direction, self.count_at = frame, roi, direction, count_at
        self._cache = None
        self.refresh()

    @property
    def image(self) -> Any:
        """The picture shown (a PIL image), like textual-image's widget."""
        return self._image

    @image.setter
    def image(self, picture: Any) -> None:
        self._image = picture
        frame = None if picture is None else np.asarray(picture.convert("RGB"))
        self.set_view(frame, self.roi, self.direction, self.count_at)

    def _pixels(self) -> np.ndarray | None:
        if self.frame is None or self.size.width < 2 or self.size.height < 1:
            return None
        key = (self.size.width, self.size.height, self.roi, self.direction, self.count_at)
        if self._cache is None or self._cache[0] != key:
            arrow_free = scaled_overlay(
                self.frame,
                self.size.width,
                self.size.height,
                *key[2:],  # type: ignore[arg-type]
            )
            self._cache = (key, arrow_free)
        return self._cache[1]

    def render_line(self, y: int) -> Strip:
        """One row of cells: two rows of pixels."""
        pixels = self._pixels()
        if pixels is None:
            return Strip.blank(self.size.width)
        top, bottom = pixels[2 * y], pixels[2 * y + 1]
        segments = []
        for (r1, g1, b1), (r2, g2, b2) in zip(top.tolist(), bottom.tolist(), strict=True):
            style = Style(color=Color.from_rgb(r1, g1, b1), bgcolor=Color.from_rgb(r2, g2, b2))
            segments.append(Segment("▀", style))
        return Strip(segments, self.size.width)
