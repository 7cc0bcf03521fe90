"""Views of rendered parts, cropped as the pipeline crops them (for tests, benchmarks, docs).

Each part is drawn once by the simulator (`agent.sim.parts`) at a random rotation and
size, then seen in several "frames": pasted at slightly different positions on a noisy
belt, with a small brightness change and fresh sensor noise, and cropped with a margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agent.inspection import PartCrop
from agent.sim.parts import MIN_VISIBLE_PX, PartSpec, RenderedPart, composite, render_part

BELT = (68, 68, 70)


@dataclass(frozen=True, slots=True)
class SampledPart:
    """One part's views and its truth (defect kind, visible defect pixels)."""

    views: list[PartCrop]
    defect: str | None
    visible_px: int
    spec: PartSpec


def sample_part(
    rng: np.random.Generator,
    design: str,
    defect: str | None = None,
    colour: str = "steel",
    views: int = 3,
    size_px: tuple[float, float] = (64.0, 76.0),
    variation: float = 0.0,
    strength: float = 1.0,
) -> SampledPart:
    """Render one part and `views` crops of it.

    `variation`: the part's tolerance of size, tint and surface (`PartSpec.variation`);
    `strength`: its defect's size and contrast (`PartSpec.defect_strength`).
    """
    spec = PartSpec(
        design=design,
        colour=colour,
        size=float(rng.uniform(*size_px)),
        defect=defect,
        seed=int(rng.integers(2**31)),
        variation=variation,
        defect_strength=strength,
    )
    part = render_part(spec, float(rng.uniform(0, 360)))
    return SampledPart(seen_views(part, rng, views), defect, int(part.defect_mask.sum()), spec)


def seen_views(part: RenderedPart, rng: np.random.Generator, views: int = 3) -> list[PartCrop]:
    """`views` crops of a drawn part, each pasted a little apart on a noisy belt."""
    side = part.mask.shape[0] + 16
    crops = []
    for _ in range(views):
        canvas = np.empty((side, side, 3), np.float32)
        canvas[:] = BELT
        canvas += rng.normal(0, 2.0, canvas.shape)
        image = np.clip(canvas, 0, 255).astype(np.uint8)
        centre = (side / 2 + rng.uniform(-3, 3), side / 2 + rng.uniform(-3, 3))
        composite(image, part, centre)
        gain = rng.uniform(0.97, 1.03)
        noisy = image.astype(np.float32) * gain + rng.normal(0, 2.0, image.shape)
        image = np.clip(noisy, 0, 255).astype(np.uint8)
        mask = np.zeros((side, side), bool)
        x0 = round(centre[0] - part.centre[0])
        y0 = round(centre[1] - part.centre[1])
        ph, pw = part.mask.shape
        mask[y0 : y0 + ph, x0 : x0 + pw] = part.mask > 127
        crops.append(PartCrop(image, mask))
    return crops


def sample_defects(
    rng: np.random.Generator, design: str, defect: str, count: int, **kwargs: object
) -> list[SampledPart]:
    """`count` parts with a visible defect of one kind (invisible draws are redrawn)."""
    out: list[SampledPart] = []
    while len(out) < count:
        part = sample_part(rng, design, defect, **kwargs)  # type: ignore[arg-type]
        if part.visible_px >= MIN_VISIBLE_PX:
            out.append(part)
    return out
