"""`unseen_defects` names the defects that do not show, left out of the accuracy figures.

The simulator draws a crack from a point of the outline towards the part's centre; on
an angle plate the centre lies off the L, so some cracks run off the part. Those are
what `unseen_defects` names, judged here independently: by how many pixels the defect
changed the drawn part (the same part drawn without it).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from agent.sim.line import Phase, Scenario, plan_parts, unseen_defects
from agent.sim.parts import MIN_VISIBLE_PX, render_part


def _changed_px(truth) -> int:  # type: ignore[no-untyped-def]
    drawn = render_part(truth.spec, truth.angle).image.astype(np.int16)
    without = render_part(replace(truth.spec, defect=None), truth.angle).image.astype(np.int16)
    return int((np.abs(drawn - without).max(axis=2) > 20).sum())


def test_cracks_off_an_angle_plate_are_unseen_and_only_those():
    line = Scenario(
        phases=(Phase(40.0),),
        seed=5,
        direction="top_to_bottom",
        designs=("angle",),
        colours=("blue",),
        size_px=(62.0, 72.0),
        defect_rate=1.0,
        defects=("crack", "stain"),
    )
    unseen = unseen_defects(line)
    truths, _ = plan_parts(line)
    counted = [t for t in truths if t.t_count is not None]
    hidden = [t for t in counted if round(t.t_count or 0.0, 3) in unseen]
    shown = [t for t in counted if t not in hidden]
    assert hidden and shown
    assert all(t.defect == "crack" for t in hidden)  # a stain is drawn inside the part
    assert all(_changed_px(t) < MIN_VISIBLE_PX for t in hidden)
    assert all(_changed_px(t) >= MIN_VISIBLE_PX for t in shown)
