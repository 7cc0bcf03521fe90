"""The light corrections' array shortcuts give what numpy's plain forms give, exactly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from agent.inspection.light import _grey, isolate


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_grey_is_numpys_mean_over_the_channels(dtype) -> None:
    rng = np.random.default_rng(0)
    image = (rng.random((40, 50, 3)) * 255).astype(dtype)
    assert np.array_equal(_grey(image), image.mean(axis=2))
    assert _grey(image).dtype == image.mean(axis=2).dtype


def test_isolate_keeps_the_part_and_a_pixel_around_it_and_paints_the_rest() -> None:
    rng = np.random.default_rng(1)
    image = (rng.random((40, 50, 3)) * 255).astype(np.float32)
    mask = np.zeros((40, 50), np.float32)
    cv2.circle(mask, (25, 20), 9, 1.0, -1)
    background = np.array([60.3, 61.7, 65.1], np.float32)
    keep = cv2.dilate((mask > 0.1).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    expected = np.where(keep[:, :, None], image, background)
    assert np.array_equal(isolate(image, mask, background), expected)
