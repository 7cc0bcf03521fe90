"""The detail map: the part's pixel differences less their local mean."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from agent.inspection.model import LineModel, PixelModel

SIDE = 64
SPREAD = 6.0


def _model(detail_px: int = 11) -> tuple[LineModel, np.ndarray]:
    """A taught grey disc on the belt's colour, every pixel's spread the noise floor."""
    disc = np.zeros((SIDE, SIDE), np.uint8)
    cv2.circle(disc, (SIDE // 2, SIDE // 2), 24, 1, -1)
    mean = np.where(disc[..., None] > 0, 150.0, 60.0) * np.ones(3)
    pixels = PixelModel(mean.astype(np.float32), np.full((SIDE, SIDE, 3), SPREAD, np.float32))
    region = np.ones((SIDE, SIDE), np.float32)
    model = LineModel(SIDE, region, pixels, None, detail_px=detail_px)
    return model, disc.astype(np.float32)


def _peaks(model: LineModel, image: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    pixel, detail = model.pixel_maps(image.astype(np.float32), mask)
    assert pixel is not None and detail is not None
    return float(pixel.max()), float(detail.max())


def test_a_slow_change_over_the_part_is_no_detail():
    model, mask = _model()
    image = model.pixels.mean.copy()
    # light from one side: the part's edges 4 spreads darker and brighter
    ramp = np.linspace(-24.0, 24.0, SIDE, dtype=np.float32)[None, :, None]
    image += ramp * mask[..., None]
    pixel, detail = _peaks(model, image, mask)
    assert pixel > 2.0  # the pixels see the whole part off its colour
    assert detail < 0.5


def test_a_faint_scratch_stands_out_of_a_slow_change():
    model, mask = _model()
    image = model.pixels.mean.copy()
    image += np.linspace(-15.0, 15.0, SIDE, dtype=np.float32)[None, :, None] * mask[..., None]
    scratch = np.zeros((SIDE, SIDE), np.uint8)
    cv2.line(scratch, (22, 30), (40, 36), 1, 2)
    image += 2.0 * SPREAD * scratch[..., None]  # two spreads brighter
    pixel, detail = _peaks(model, image, mask)
    _, plain = _peaks(model, model.pixels.mean + 2.0 * SPREAD * scratch[..., None], mask)
    assert detail > 1.0
    assert detail == pytest.approx(plain, rel=0.25)  # the slow change took nothing off it


def test_the_belt_pixel_kept_around_the_part_is_no_detail():
    """`isolate` keeps the belt's pixel next to the outline: a seam, a cleat or dirt there."""
    model, mask = _model()
    image = model.pixels.mean.copy()
    outline = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) - mask.astype(np.uint8)
    image[outline > 0] = 0.0  # a dark ring: 10 spreads off the belt's colour
    pixel, detail = _peaks(model, image, mask)
    assert pixel > 5.0
    assert detail < 0.5


def test_a_model_taught_before_the_detail_map_has_none():
    model, mask = _model(detail_px=0)
    pixel, detail = model.pixel_maps(model.pixels.mean, mask)
    assert detail is None
    assert pixel is not None and np.array_equal(pixel, model.pixel_map(model.pixels.mean))


def test_the_pixel_map_is_the_same_with_or_without_the_detail_map():
    model, mask = _model()
    rng = np.random.default_rng(3)
    image = model.pixels.mean + rng.normal(0, SPREAD, (SIDE, SIDE, 3)).astype(np.float32)
    pixel, _ = model.pixel_maps(image, mask)
    assert pixel is not None and np.array_equal(pixel, model.pixel_map(image))


def test_the_distance_and_the_signed_difference_are_numpys_plain_forms():
    """Planes per channel and a running choice of offset give what the plain forms give."""
    from agent.inspection.model import _OFFSETS, _shifted

    rng = np.random.default_rng(4)
    mean = rng.uniform(0, 255, (40, 48, 3)).astype(np.float32)
    sigma = rng.uniform(6, 30, (40, 48, 3)).astype(np.float32)
    image = (mean + rng.normal(0, 12, mean.shape)).astype(np.float32)
    means = np.stack([_shifted(mean, dy, dx) for dy, dx in _OFFSETS]).astype(np.float32)
    inverse = np.stack([1.0 / _shifted(sigma, dy, dx) for dy, dx in _OFFSETS]).astype(np.float32)
    z = (image[None] - means) * inverse
    squares = z * z
    summed = squares[..., 0] + squares[..., 1] + squares[..., 2]
    best = summed.argmin(axis=0)
    plain = np.sqrt(summed.min(axis=0) / 3.0).astype(np.float32)
    model = PixelModel(mean, sigma)
    distance, signed = model.residual(image)
    assert np.array_equal(model.distance(image), plain) and np.array_equal(distance, plain)
    chosen = np.take_along_axis(z, best[None, :, :, None], axis=0)[0]
    assert np.array_equal(np.moveaxis(signed, 0, 2), chosen)


def test_a_part_with_no_surface_two_pixels_in_has_no_detail_map():
    """A thin part (a wire): the detail has no say, and no zero score that would set
    its threshold at nothing."""
    model, _ = _model()
    wire = np.zeros((SIDE, SIDE), np.float32)
    wire[30:34, 8:56] = 1.0  # 4 px across: nothing is two pixels in from both edges
    pixel, detail = model.pixel_maps(model.pixels.mean, wire)
    assert pixel is not None and detail is None
