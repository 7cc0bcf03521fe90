"""Subtle defects on parts that vary as an ordinary production does.

Parts with the tolerance of a real line (size, tint, surface: `variation` 1.0) and
defects at 0.4 of their drawn size and contrast. The pixel comparison's spread over
such parts is as wide as a faint scratch; the backbone's patches (run on one view)
see it. Scoring the part by the median of both maps over its views let the two
pixel-only views outvote that one: a faint scratch or crack scored like a good part
(AUROC 0.74-0.81, scratches 0/12).
"""

from __future__ import annotations

import numpy as np
import pytest

from agent.inspection.fit import fit_line
from agent.inspection.inspector import TaughtInspector
from agent.inspection.runtime import Backbone
from agent.inspection.samples import SampledPart, sample_part
from agent.sim.parts import MIN_VISIBLE_PX


def _part(rng: np.random.Generator, design: str, kind: str | None = None) -> SampledPart:
    return sample_part(rng, design, kind, variation=1.0, strength=0.4)


@pytest.fixture(scope="module")
def backbone() -> Backbone:
    return Backbone()


def _visible(rng: np.random.Generator, design: str, kind: str, count: int) -> list:
    out = []
    while len(out) < count:
        part = _part(rng, design, kind)
        if part.visible_px >= MIN_VISIBLE_PX:
            out.append(part.views)
    return out


@pytest.mark.parametrize("design", ["washer", "bracket"])
def test_faint_scratches_and_cracks_on_varied_parts_are_found(backbone, design):
    rng = np.random.default_rng(5)
    teach = [_part(rng, design).views for _ in range(90)]
    line = TaughtInspector(fit_line(teach, backbone), backbone)
    good = [line.inspect(_part(rng, design).views) for _ in range(60)]
    faint = {kind: _visible(rng, design, kind, 12) for kind in ("scratch", "crack")}
    scores = {
        kind: [line.inspect(views).score or 0.0 for views in parts] for kind, parts in faint.items()
    }
    good_scores = [v.score or 0.0 for v in good]
    assert sum(not v.good for v in good) <= 2, sorted(good_scores)[-4:]
    found = [s for kind in scores for s in scores[kind]]
    assert sum(s > 1.0 for s in found) >= 0.8 * len(found), scores
    auroc = np.mean([(d > g) + 0.5 * (d == g) for d in found for g in good_scores])
    assert auroc >= 0.97, (auroc, scores)


@pytest.mark.parametrize("design", ["washer", "bracket"])
def test_the_pixels_alone_see_faint_scratches_through_a_part_s_slow_changes(design):
    """The detail map (the pixel differences less their local mean, `pixel_maps`):
    a part's slow changes (tint, a mottled finish, the light across it) fall out of
    it, a faint scratch does not. Pixels alone (no backbone), 10 faint scratches
    against 60 good parts: AUROC 0.88 (washers) and 0.83 (brackets) without it, 0.97
    and 0.97 with (stains 0.97 and 0.96 without, 1.00 and 0.97 with)."""
    rng = np.random.default_rng(7)
    line = TaughtInspector(fit_line([_part(rng, design).views for _ in range(90)], None), None)
    good = [line.inspect(_part(rng, design).views).score or 0.0 for _ in range(60)]
    assert sum(g > 1.0 for g in good) <= 1, sorted(good)[-3:]
    for kind, least in (("scratch", 0.93), ("stain", 0.95)):
        found = [line.inspect(views).score or 0.0 for views in _visible(rng, design, kind, 12)]
        auroc = np.mean([(d > g) + 0.5 * (d == g) for d in found for g in good])
        assert auroc >= least, (kind, auroc, sorted(found), sorted(good)[-3:])
