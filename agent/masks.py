"""Binary masks shared by the counting and inspection stages."""

from __future__ import annotations

import cv2
import numpy as np


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """`mask` (uint8, non-zero on the pieces) with every piece's holes filled: uint8 0/1.

    A washer's centre hole or a bracket's bolt holes belong to the part: its outline,
    not its pixels, says where it is. Each outer outline is drawn filled.
    """
    filled = np.zeros(mask.shape, np.uint8)  # (zeros_like costs several times more)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if contours:
        cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled
