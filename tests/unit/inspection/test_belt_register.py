"""A part's outline on a patterned belt: told from the belt the counter learnt (#13).

The crop is a rendered part on a cleated belt: bright bars across the belt with a
dark shadow beside them, as bright and as dark against the belt as the part. The
belt picture handed with it is what the counter's model gives: the same pattern,
blurred, a pixel off and a few grey levels out, as a model at a quarter of the
resolution is.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from agent.inspection import PartCrop
from agent.inspection.register import part_and_neighbour, part_mask, register
from agent.sim.parts import PartSpec, composite, render_part

SIDE = 110


def cleated_belt(offset: int, shift: float = 0.0) -> np.ndarray:
    """A float32 BGR belt with a cleat (bright, then its shadow) every 48 px."""
    x = np.arange(SIDE, dtype=np.float32) + shift
    phase = np.mod(x - offset, 48.0)
    grey = np.full(SIDE, 62.0, np.float32)
    grey[phase < 7] = 160.0  # the cleat
    grey[(phase >= 7) & (phase < 12)] = 28.0  # its shadow
    row = np.stack([grey, grey, grey * 1.03], axis=1)
    return np.repeat(row[None], SIDE, axis=0)


def crop_on_cleats(seed: int) -> tuple[PartCrop, np.ndarray]:
    """A washer over a cleat, its coarse mask (as counting draws it), and the truth."""
    rng = np.random.default_rng(seed)
    offset = int(rng.integers(25, 40))  # a cleat under the part's edge
    # the model: a pixel off, blurred, a little brighter
    model = cv2.GaussianBlur(cleated_belt(offset, shift=1.0), (5, 5), 0) * 1.04
    return crop_over(cleated_belt(offset), model, seed, rng)


def crop_over(
    belt: np.ndarray, model: np.ndarray, seed: int, rng: np.random.Generator
) -> tuple[PartCrop, np.ndarray]:
    """A brass washer on `belt` (float32 BGR) handed with the belt `model`, and the truth."""
    image = np.clip(belt + rng.normal(0, 3.0, belt.shape), 0, 255).astype(np.uint8)
    part = render_part(PartSpec("washer", colour="brass", size=64.0, seed=seed), 30.0 * seed)
    centre = (SIDE / 2 + rng.uniform(-2, 2), SIDE / 2 + rng.uniform(-2, 2))
    composite(image, part, centre)
    truth = np.zeros((SIDE, SIDE), bool)
    x0, y0 = round(centre[0] - part.centre[0]), round(centre[1] - part.centre[1])
    ph, pw = part.mask.shape
    truth[y0 : y0 + ph, x0 : x0 + pw] = part.mask > 127
    # counting's mask: a quarter of the resolution, holes filled, stretched back
    small = cv2.resize(truth.view(np.uint8) * np.uint8(255), (SIDE // 4, SIDE // 4))
    coarse = cv2.resize(small, (SIDE, SIDE), interpolation=cv2.INTER_LINEAR) > 127
    return PartCrop(image, coarse, belt=np.clip(model, 0, 255).astype(np.uint8)), truth


def overlap(found: np.ndarray, truth: np.ndarray) -> float:
    found = found > 0
    return float((found & truth).sum()) / float((found | truth).sum())


@pytest.mark.parametrize("seed", range(1, 7))
def test_the_part_is_told_from_the_cleats_by_the_learnt_belt(seed: int) -> None:
    crop, truth = crop_on_cleats(seed)
    found = part_mask(crop)
    outside = found.astype(bool) & ~cv2.dilate(truth.view(np.uint8), np.ones((5, 5))).astype(bool)
    assert overlap(found, truth) > 0.85
    assert outside.sum() < 0.02 * truth.sum()  # no cleat taken for the part


def test_without_the_learnt_belt_the_cleats_join_the_part() -> None:
    # what the border's colour alone gives on the same crops: why the belt is needed
    worse = 0
    for seed in range(1, 7):
        crop, truth = crop_on_cleats(seed)
        plain = part_mask(dataclasses.replace(crop, belt=None))
        worse += overlap(plain, truth) < overlap(part_mask(crop), truth) - 0.05
    assert worse >= 4


def test_the_pose_on_a_patterned_belt_is_the_parts_own() -> None:
    # the same part on a plain belt and over cleats lands at the same place and size
    crop, truth = crop_on_cleats(3)
    moments = cv2.moments(truth.view(np.uint8))
    placed = register(crop, None, 96)
    assert placed is not None
    assert abs(placed.pose.cx - moments["m10"] / moments["m00"]) < 1.5
    assert abs(placed.pose.cy - moments["m01"] / moments["m00"]) < 1.5


def test_where_the_belt_is_not_known_the_part_is_still_found_whole() -> None:
    # a band of the crop outside the ROI: the border's colour stands for the belt there
    for seed in range(1, 7):
        crop, truth = crop_on_cleats(seed)
        known = np.ones((SIDE, SIDE), bool)
        known[:, 40:70] = False
        assert overlap(part_mask(dataclasses.replace(crop, belt_known=known)), truth) > 0.85


def test_where_the_belt_is_not_known_the_part_keeps_within_the_pipelines_mask() -> None:
    # unknown belt is taken for the border's colour: a cleat there differs from it, so
    # only the pipeline's own mask keeps it out
    for seed in range(1, 7):
        crop, truth = crop_on_cleats(seed)
        nowhere = np.zeros((SIDE, SIDE), bool)
        found = part_mask(dataclasses.replace(crop, belt_known=nowhere)) > 0
        assert not (found & ~np.asarray(crop.mask)).any()
        assert overlap(found, truth) > 0.8


@pytest.mark.parametrize("seed", range(1, 5))
def test_a_part_half_over_belt_near_its_own_colour_is_found_whole(seed: int) -> None:
    # a dark belt with a wide light stretch, nearer the brass part's colour than the
    # belt is, under the part's left half: the step from belt to part is small there,
    # and Otsu's threshold, set by the rest of the part, lay above all of it (the part
    # over it was taken for belt: a bite out of every view, good parts rejected)
    belt = np.full((SIDE, SIDE, 3), 62.0, np.float32)
    stretch = slice(SIDE // 2 - 30, SIDE // 2)
    belt[:, stretch] = (110.0, 140.0, 160.0)  # BGR; the part is (70, 160, 200)
    model = cv2.GaussianBlur(belt, (5, 5), 0) * 1.04
    crop, truth = crop_over(belt, model, seed, np.random.default_rng(seed))
    found = part_mask(crop) > 0
    over = np.zeros_like(truth)
    over[:, stretch] = truth[:, stretch]
    assert (found & over).sum() > 0.9 * over.sum()
    assert overlap(found, truth) > 0.9


@pytest.mark.parametrize("seed", range(1, 5))
def test_a_touching_part_keeps_its_rim_where_the_mask_falls_short(seed: int) -> None:
    """A washer over cleats with another edge to edge on its right, the counter's mask
    stopping 6 px short of its top (a thin arc of a round rim is not in a mask drawn at
    a quarter of the resolution): the rim there is the part's own, since it runs on
    nowhere; the neighbour, which runs on off the crop, is still cut off."""
    crop, truth = crop_on_cleats(seed)
    image = crop.image.copy()
    rows, cols = np.nonzero(truth)
    other = render_part(PartSpec("washer", colour="brass", size=64.0, seed=seed + 50), 0.0)
    composite(image, other, (float(cols.max()) + 32.0, float(rows.mean())))
    assert crop.mask is not None
    mask = np.asarray(crop.mask).copy()
    mask[: int(rows.min()) + 6] = False
    found, neighbour, _ = part_and_neighbour(
        dataclasses.replace(crop, image=image, mask=mask, touching=True)
    )
    top, middle = int(rows.min()), int(np.median(cols))
    assert neighbour is not None and not neighbour[top : top + 6, middle - 10 : middle + 10].any()
    assert overlap(found, truth) > 0.85
    assert not (found > 0)[:, int(cols.max()) + 4 :].any()  # nothing of the neighbour
