"""Simulated part-to-part tolerance and subtle defects (agent/sim/parts.py)."""

from __future__ import annotations

import numpy as np
import pytest

from agent.sim.parts import DEFECT_KINDS, PartSpec, render_part


def _body(part) -> np.ndarray:
    return part.mask > 127


def test_variation_changes_size_and_tint_within_an_ordinary_spread():
    areas, tints = [], []
    for seed in range(30):
        part = render_part(PartSpec("bracket", size=70.0, seed=seed, variation=1.0))
        plain = render_part(PartSpec("bracket", size=70.0, seed=seed))
        areas.append(_body(part).sum() / _body(plain).sum())
        tints.append(part.image[_body(part)].mean(axis=0) / plain.image[_body(plain)].mean(axis=0))
    areas_a, tints_a = np.array(areas), np.array(tints)
    assert 0.005 < areas_a.std() < 0.06 and abs(areas_a.mean() - 1) < 0.03
    assert 0.005 < tints_a.std() < 0.06


def test_no_variation_is_the_plain_part():
    a = render_part(PartSpec("washer", seed=3), 20.0)
    b = render_part(PartSpec("washer", seed=3, variation=0.0, defect_strength=1.0), 20.0)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)


@pytest.mark.parametrize("kind", [k for k in DEFECT_KINDS if k != "missing_hole"])
def test_subtle_defects_are_smaller_or_fainter(kind):
    changed_full, changed_subtle = 0.0, 0.0
    for seed in range(8):
        good = render_part(PartSpec("washer", seed=seed), 0.0)
        full = render_part(PartSpec("washer", defect=kind, seed=seed), 0.0)
        subtle = render_part(PartSpec("washer", defect=kind, seed=seed, defect_strength=0.4), 0.0)
        changed_full += np.abs(full.image.astype(float) - good.image).sum()
        changed_subtle += np.abs(subtle.image.astype(float) - good.image).sum()
    assert 0 < changed_subtle < 0.85 * changed_full


def test_out_of_range_look_is_refused():
    with pytest.raises(ValueError):
        PartSpec(variation=-1.0)
    with pytest.raises(ValueError):
        PartSpec(defect_strength=0.0)
