"""Rotation where the outline cannot tell: a washer with four bolt holes and a printed mark.

Its outline fits the reference equally at four angles, so the outline alone turns the
mark to any of four places; the part's look (`Appearance`) turns every view the same way.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from agent.inspection import PartCrop
from agent.inspection.register import (
    build_appearance,
    build_reference,
    locate,
    part_mask,
    polar_signature,
    register,
    rotations_to,
)

SIDE = 120
CANON = 96


def marked_washer(angle: float, seed: int) -> PartCrop:
    """A brass washer turned by `angle` degrees, a light mark printed between two holes."""
    rng = np.random.default_rng(seed)
    scale = 8  # drawn at 8x and shrunk: smooth edges
    big = np.full((SIDE * scale, SIDE * scale, 3), (70, 70, 72), np.uint8)
    centre = np.array([SIDE / 2 + rng.uniform(-3, 3), SIDE / 2 + rng.uniform(-3, 3)])

    def at(radius: float, degrees: float) -> tuple[int, int]:
        a = math.radians(angle + degrees)
        x, y = centre + radius * np.array([math.cos(a), math.sin(a)])
        return round(x * scale), round(y * scale)

    cv2.circle(big, at(0, 0), 40 * scale, (60, 150, 190), -1)
    cv2.circle(big, at(0, 0), 11 * scale, (70, 70, 72), -1)
    for k in range(4):
        cv2.circle(big, at(27, 90 * k), 5 * scale, (70, 70, 72), -1)
    cv2.circle(big, at(24, 45), 5 * scale, (225, 235, 240), -1)  # the print: part, not belt
    image = cv2.resize(big, (SIDE, SIDE), interpolation=cv2.INTER_AREA).astype(np.float32)
    image += rng.normal(0, 2.0, image.shape)
    crop = PartCrop(image=np.clip(image, 0, 255).astype(np.uint8))
    return PartCrop(image=crop.image, mask=part_mask(crop) > 0)


def mark_at(image: np.ndarray) -> tuple[float, float]:
    """Where the print lies in a registered view: its brightest spot on the part."""
    grey = cv2.GaussianBlur(image.mean(axis=2), (0, 0), 2.0)
    yy, xx = np.mgrid[: grey.shape[0], : grey.shape[1]]
    on_ring = np.hypot(xx - CANON / 2, yy - CANON / 2) < 30
    y, x = np.unravel_index(np.argmax(np.where(on_ring, grey, -np.inf)), grey.shape)
    return float(x), float(y)


def spread(points: list[tuple[float, float]]) -> float:
    """The largest distance of a point from the points' median."""
    centre = np.median(np.array(points), axis=0)
    return float(max(math.dist(p, centre) for p in points))


def test_the_outline_alone_fits_a_bolt_hole_washer_at_four_angles() -> None:
    crop = marked_washer(10.0, 0)
    reference = build_reference([marked_washer(a, s) for s, a in enumerate((0, 33, 71))])
    mask = part_mask(crop)
    angles = rotations_to(reference, polar_signature(mask, *locate(mask)))  # type: ignore[misc]
    assert len(angles) == 4
    gaps = sorted((b - angles[0]) % 360 for b in angles[1:])
    assert np.allclose(gaps, [90, 180, 270], atol=3)


def test_the_parts_look_turns_every_view_the_same_way() -> None:
    taught = [marked_washer(a, s) for s, a in enumerate(np.linspace(0, 340, 12))]
    reference = build_reference(taught)
    appearance = build_appearance(taught, reference, CANON)
    seen = [marked_washer(a, 100 + s) for s, a in enumerate((7, 52, 98, 141, 199, 263, 305))]
    by_outline = [register(c, reference, CANON) for c in seen]
    by_look = [register(c, reference, CANON, appearance) for c in seen]
    # the outline (the same with or without the print) leaves the mark at several of its
    # four places; the look at one
    assert spread([mark_at(r.image) for r in by_outline if r is not None]) > 20
    assert spread([mark_at(r.image) for r in by_look if r is not None]) < 4
