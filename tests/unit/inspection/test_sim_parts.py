"""Taught on good rendered parts, the inspector finds every defect kind on two designs."""

from __future__ import annotations

import numpy as np
import pytest

from agent.inspection.fit import fit_line
from agent.inspection.inspector import TaughtInspector
from agent.inspection.runtime import Backbone
from agent.inspection.samples import sample_defects, sample_part
from agent.sim.parts import DEFECT_KINDS

DESIGNS = ("washer", "bracket")
TEACH_PARTS = 120
GOOD_PARTS = 150
DEFECTS_PER_KIND = 20


@pytest.fixture(scope="session")
def backbone() -> Backbone:
    return Backbone()


@pytest.fixture(scope="session")
def taught_lines(backbone) -> dict[str, TaughtInspector]:
    lines = {}
    for i, design in enumerate(DESIGNS):
        rng = np.random.default_rng(100 + i)
        good = [sample_part(rng, design).views for _ in range(TEACH_PARTS)]
        lines[design] = TaughtInspector(fit_line(good, backbone, false_reject_rate=0.01), backbone)
    return lines


@pytest.mark.parametrize("design", DESIGNS)
def test_new_good_parts_are_rarely_rejected(taught_lines, design):
    rng = np.random.default_rng(7)
    inspector = taught_lines[design]
    verdicts = [inspector.inspect(sample_part(rng, design).views) for _ in range(GOOD_PARTS)]
    rejected = sum(not v.good for v in verdicts)
    assert rejected / GOOD_PARTS <= 0.01, [v.score for v in verdicts if not v.good]
    assert all(v.defect is None and v.score is not None for v in verdicts if v.good)


@pytest.mark.parametrize("design", DESIGNS)
def test_every_defect_kind_is_found(taught_lines, design):
    rng = np.random.default_rng(11)
    inspector = taught_lines[design]
    recall = {}
    for kind in DEFECT_KINDS:
        parts = sample_defects(rng, design, kind, DEFECTS_PER_KIND)
        verdicts = [inspector.inspect(p.views) for p in parts]
        assert all(v.defect == "anomaly" for v in verdicts if not v.good)
        recall[kind] = sum(not v.good for v in verdicts) / len(parts)
    assert all(r >= 0.95 for r in recall.values()), recall


def test_verdict_carries_heatmap_where_the_defect_is(taught_lines):
    rng = np.random.default_rng(5)
    inspector = taught_lines["washer"]
    part = sample_defects(rng, "washer", "stain", 1)[0]
    verdict = inspector.inspect(part.views)
    assert not verdict.good
    assert verdict.heatmap is not None and verdict.crop is not None
    assert verdict.heatmap.shape == verdict.crop.shape[:2]
    assert verdict.heatmap.dtype == np.float32
    assert 0.0 <= verdict.heatmap.min() and verdict.heatmap.max() <= 1.0
    # the hot spot is small: most of the part is as taught
    assert (verdict.heatmap > 0.5).mean() < 0.2


def test_pixels_only_model_also_works(backbone):
    rng = np.random.default_rng(3)
    good = [sample_part(rng, "hex").views for _ in range(40)]
    inspector = TaughtInspector(fit_line(good, None), None)
    assert inspector.model.patches is None
    assert inspector.inspect(sample_part(rng, "hex").views).good
    assert not inspector.inspect(sample_defects(rng, "hex", "missing_hole", 1)[0].views).good


def _dimmed(views, gain):
    from agent.inspection import PartCrop

    return [
        PartCrop(np.clip(v.image.astype(np.float32) * gain, 0, 255).astype(np.uint8), v.mask)
        for v in views
    ]


@pytest.mark.parametrize("gain", [0.85, 1.12])
def test_lighting_drift_is_not_a_defect(taught_lines, gain):
    rng = np.random.default_rng(17)
    inspector = taught_lines["washer"]
    good = [inspector.inspect(_dimmed(sample_part(rng, "washer").views, gain)) for _ in range(40)]
    assert sum(not v.good for v in good) == 0, [v.score for v in good]
    for kind in ("scratch", "wrong_colour"):
        parts = sample_defects(rng, "washer", kind, 5)
        assert all(not inspector.inspect(_dimmed(p.views, gain)).good for p in parts), kind
