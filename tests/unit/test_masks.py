"""fill_holes: a piece's holes belong to it, the belt between pieces does not."""

import cv2
import numpy as np

from agent.masks import fill_holes


def test_a_washers_hole_is_filled_and_the_belt_between_pieces_is_not() -> None:
    mask = np.zeros((40, 80), np.uint8)
    cv2.circle(mask, (20, 20), 12, 255, thickness=-1)
    cv2.circle(mask, (20, 20), 5, 0, thickness=-1)  # the washer's hole
    cv2.rectangle(mask, (50, 10), (70, 30), 255, thickness=-1)
    cv2.rectangle(mask, (56, 16), (64, 24), 0, thickness=-1)  # a bracket's window
    filled = fill_holes(mask)
    assert filled.dtype == np.uint8 and set(np.unique(filled)) == {0, 1}
    assert filled[20, 20] == 1 and filled[20, 60] == 1  # both holes
    assert filled[20, 40] == 0 and filled[2, 2] == 0  # belt between and around
    expected = np.zeros_like(mask)
    cv2.circle(expected, (20, 20), 12, 1, thickness=-1)
    cv2.rectangle(expected, (50, 10), (70, 30), 1, thickness=-1)
    assert np.array_equal(filled, expected)


def test_an_empty_mask_stays_empty() -> None:
    assert not fill_holes(np.zeros((8, 8), np.uint8)).any()
