"""Teach scores its clean parts from views prepared once: as inspection scores them.

Rendered washers (five views each) through the real int8 backbone.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from agent.inspection import FEATURE_VIEWS
from agent.inspection.fit import fit_model, line_light, patch_channels
from agent.inspection.inspector import TaughtInspector
from agent.inspection.model import Taught
from agent.inspection.prepared import prepare
from agent.inspection.register import build_appearance, build_reference
from agent.inspection.runtime import Backbone
from agent.inspection.samples import sample_part
from agent.inspection.selection import select_views


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))


def test_a_prepared_part_has_the_maps_inspection_finds_from_its_crops():
    backbone = Backbone()
    rng = np.random.default_rng(3)
    # each part under its own light, as the pipeline reads it off the belt
    parts = [
        [
            replace(v, light=float(rng.uniform(60, 70)))
            for v in sample_part(rng, "washer", views=5).views
        ]
        for _ in range(12)
    ]
    crops = [v for views in parts for v in views]
    reference = build_reference(crops)
    appearance = build_appearance(crops, reference, 96)
    selection = select_views(parts, reference, 96, appearance=appearance)
    every = range(len(selection.parts))
    views = [r for regs in selection.registered for r in regs]
    line = line_light(views, 96, "register", selection.part_scale, reference)
    prepared = prepare(
        line, selection.registered, backbone, patch_channels(backbone, "register", 0)
    )
    inspector = TaughtInspector(Taught(fit_model(line, prepared, every, "register"), {}), backbone)
    patches = 0
    for i, crops in enumerate(selection.parts):
        taught, seen = prepared.view_maps(inspector, i), inspector.view_maps(crops)
        # the same three middle views of the five, each with the same maps
        assert [m.reg.pose for m in taught] == [m.reg.pose for m in seen] and len(seen) == 3
        assert all(_same(a.pixel, b.pixel) for a, b in zip(taught, seen, strict=True))
        assert all(_same(a.patch, b.patch) for a, b in zip(taught, seen, strict=True))
        patches += sum(m.patch is not None for m in seen)
    assert len(selection.parts) == 12 and patches == 12 * FEATURE_VIEWS
