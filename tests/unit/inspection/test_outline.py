"""A part's outline does not depend on whether the counter has learnt the belt (#13).

A shift is long enough for the counter to learn the belt under each crop (even a
plain belt's faint repeat), while teach's short clip, its parts closer together, may
not be. A blurred part's outline must come out the same either way, or the registered
view grows by a pixel around the whole outline and every good part of the shift
scores above the threshold teach set (seen on motion-blur, seed offset 2).
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from agent.inspection import PartCrop
from agent.inspection.register import _Blobs, part_mask
from agent.sim.parts import PartSpec, composite, render_part

SIDE = 96
BLUR_PX = 6


def blurred_crop(seed: int) -> PartCrop:
    """A brass washer smeared along the flow on a speckled belt, with the belt's picture."""
    rng = np.random.default_rng(seed)
    belt = np.full((SIDE, SIDE, 3), (68.0, 68.0, 70.0), np.float32)
    belt += cv2.GaussianBlur(rng.normal(0, 6, (SIDE, SIDE)).astype(np.float32), (3, 3), 0)[
        ..., None
    ]
    image = np.clip(belt, 0, 255).astype(np.uint8)
    part = render_part(PartSpec("washer", colour="brass", size=64.0, seed=seed), 40.0 * seed)
    composite(image, part, (SIDE / 2, SIDE / 2))
    image = cv2.blur(image, (BLUR_PX, 1))
    image = np.clip(image + rng.normal(0, 2.0, image.shape), 0, 255).astype(np.uint8)
    truth = np.zeros((SIDE, SIDE), np.uint8)
    cv2.circle(truth, (SIDE // 2, SIDE // 2), 30, 255, -1)
    coarse = cv2.resize(cv2.resize(truth, (SIDE // 4, SIDE // 4)), (SIDE, SIDE)) > 127
    picture = cv2.blur(np.clip(belt, 0, 255).astype(np.uint8), (BLUR_PX, 1))
    return PartCrop(image, coarse, belt=picture)


def area(crop: PartCrop) -> int:
    return int((part_mask(crop) > 0).sum())


@pytest.mark.parametrize("seed", range(1, 6))
def test_the_outline_is_the_same_whether_the_belt_is_known_or_not(seed: int) -> None:
    crop = blurred_crop(seed)
    known, plain = area(crop), area(dataclasses.replace(crop, belt=None))
    assert abs(known - plain) <= 0.03 * plain


def test_a_ring_held_together_by_thin_bridges_stays_whole() -> None:
    # a washer over a bright cleat: where brass differs little from the cleat, its bolt
    # holes grow until only thin bridges hold the ring together; both halves lie in
    # the pipeline's mask, so neither is a neighbour to cut away
    image = np.full((SIDE, SIDE, 3), 68, np.uint8)
    centre = (SIDE // 2, SIDE // 2)
    cv2.circle(image, centre, 30, (60, 150, 170), -1)
    cv2.circle(image, centre, 11, (68, 68, 68), -1)
    for dy in (-20, 20):  # bolt holes leaving bridges of 2 px to the centre hole and rim
        cv2.circle(image, (centre[0], centre[1] + dy), 7, (68, 68, 68), -1)
    ring = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) > 100
    disc = np.zeros((SIDE, SIDE), np.uint8)
    cv2.circle(disc, centre, 31, 255, -1)
    found = part_mask(PartCrop(image, disc > 0)) > 0
    assert (found & ring).sum() >= 0.95 * ring.sum()


@pytest.mark.parametrize("seed", range(5))
def test_blob_areas_and_edges_are_opencvs_statistics(seed: int) -> None:
    """`_Blobs` counts what OpenCV's connected-component statistics would say."""
    rng = np.random.default_rng(seed)
    binary = (cv2.GaussianBlur(rng.random((60, 70)), (0, 0), 2.0) > 0.5).view(np.uint8) * 255
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    blobs = _Blobs.of(binary)
    assert blobs.count == count > 2
    assert np.array_equal(blobs.labels, labels)
    assert np.array_equal(blobs.areas, stats[:, cv2.CC_STAT_AREA])
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    right, bottom = x + stats[:, cv2.CC_STAT_WIDTH], y + stats[:, cv2.CC_STAT_HEIGHT]
    h, w = binary.shape
    for within in (1, 2):
        edge = (x < within) | (y < within) | (right > w - within) | (bottom > h - within)
        assert np.array_equal(blobs.at_edge(within), edge)
