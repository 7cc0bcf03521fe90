import numpy as np
import pytest

from agent.sim.parts import (
    DEFECT_KINDS,
    DESIGNS,
    PartSpec,
    composite,
    render_on_background,
    render_part,
)


@pytest.mark.parametrize("design", DESIGNS)
def test_same_seed_same_pixels_and_good_parts_have_no_defect(design: str) -> None:
    a = render_part(PartSpec(design, "steel", 80, None, seed=5), angle=30)
    b = render_part(PartSpec(design, "steel", 80, None, seed=5), angle=30)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
    assert not a.defect_mask.any()
    assert (a.mask > 127).sum() > 0.15 * 80 * 80


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("kind", DEFECT_KINDS)
def test_every_defect_changes_pixels_where_its_truth_says(design: str, kind: str) -> None:
    good = render_part(PartSpec(design, "steel", 90, None, seed=2), angle=15)
    bad = render_part(PartSpec(design, "steel", 90, kind, seed=2), angle=15)
    truth = bad.defect_mask
    assert truth.sum() >= 8
    changed = np.abs(bad.image.astype(int) - good.image.astype(int)).max(axis=2) > 25
    changed |= (bad.mask > 127) != (good.mask > 127)
    # most truth pixels really changed, and nearly nothing changed outside the truth
    assert changed[truth].mean() > 0.5
    grown = truth.copy()
    for _ in range(2):
        grown[1:] |= grown[:-1].copy()
        grown[:-1] |= grown[1:].copy()
        grown[:, 1:] |= grown[:, :-1].copy()
        grown[:, :-1] |= grown[:, 1:].copy()
    assert (changed & ~grown).sum() < 0.02 * (good.mask > 127).sum()


def test_missing_hole_adds_area_and_chipped_edge_removes_it() -> None:
    good = (render_part(PartSpec("washer", seed=1)).mask > 127).sum()
    missing = (render_part(PartSpec("washer", defect="missing_hole", seed=1)).mask > 127).sum()
    chipped = (render_part(PartSpec("washer", defect="chipped_edge", seed=1)).mask > 127).sum()
    assert missing > good > chipped


def test_bad_spec_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown design"):
        PartSpec("gear")
    with pytest.raises(ValueError, match="unknown defect"):
        PartSpec(defect="dent")


def test_composite_clips_at_the_canvas_edge() -> None:
    canvas = np.zeros((50, 50, 3), np.uint8)
    composite(canvas, render_part(PartSpec(size=40)), (0.0, 25.0))
    assert canvas[:, :20].any() and not canvas[:, 30:].any()


def test_render_on_background_masks_line_up() -> None:
    image, mask, dmask = render_on_background(PartSpec("hex", "brass", 60, "stain", 4), 10)
    assert image.shape[:2] == mask.shape == dmask.shape
    assert dmask.any() and (dmask & ~mask).sum() == 0
    assert image[mask].mean() > image[~mask].mean()
