"""Frame validation: each kind of bad frame, and the black check's sampled first look."""

from __future__ import annotations

import numpy as np
import pytest

from agent.capture.validate import FrameValidator


@pytest.mark.parametrize(
    ("image", "kind"),
    [
        (None, "empty"),
        (np.zeros((0, 0, 3), np.uint8), "empty"),
        (np.full((48, 64), 90, np.uint8), "truncated"),
        (np.full((48, 64, 3), 90, np.float32), "truncated"),
        (np.zeros((48, 64, 3), np.uint8), "black"),
        (np.full((48, 64, 3), 4, np.uint8), "black"),
        (np.full((48, 64, 3), 5, np.uint8), None),
    ],
)
def test_each_kind_of_frame(image, kind) -> None:
    assert FrameValidator(black_level=4).problem(image) == kind


@pytest.mark.parametrize("row", [0, 1, 15, 17, 47])
def test_one_lit_pixel_on_any_row_is_not_black(row) -> None:
    """The first look reads every sixteenth row; a pixel lit on any other row still counts."""
    image = np.zeros((48, 64, 3), np.uint8)
    image[row, 33, 2] = 5
    assert FrameValidator(black_level=4).problem(image) is None


def test_another_size_after_the_first_good_frame() -> None:
    validator = FrameValidator()
    assert validator.accept(np.full((48, 64, 3), 90, np.uint8))
    assert not validator.accept(np.full((64, 48, 3), 90, np.uint8))
    assert validator.counts["wrong_size"] == 1
