"""Teach a line on rendered footage of good parts, then replay a shift with defects.

Everything real: the simulator writes mp4 footage, `oee-agent teach` runs the vision
pipeline over it and writes the model, and the shift's parts go through the same
pipeline and the int8 backbone in the LiteRT interpreter. Per design and per defect
kind: recall >= 95 % of visible defects at <= 1 % false rejects.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from agent.__main__ import main
from agent.config import load_config
from agent.inspection.loader import load_inspector
from agent.pipeline import iter_counted_parts
from agent.sim.line import Phase, Scenario, render_line
from agent.sim.parts import DEFECT_KINDS, MIN_VISIBLE_PX, render_part
from tests.conftest import taught_line_config

DESIGNS = ("washer", "bracket")
LOOK = {"speed_px_s": 200.0, "pitch_s": (0.5, 0.8)}


@pytest.fixture(scope="module", params=DESIGNS)
def shift(request, tmp_path_factory):
    """A taught line and the verdicts of a replayed shift with defects, per design."""
    design = request.param
    tmp = tmp_path_factory.mktemp(design)
    good = Scenario(phases=(Phase(60.0),), seed=3, designs=(design,), **LOOK)
    good_truth = render_line(good, tmp / "good.mp4")
    config_path = tmp / "line.toml"
    taught_line_config(config_path, good_truth, tmp / "model")
    assert main(["teach", str(good_truth.path), "--config", str(config_path)]) == 0

    # Cracks twice as often: many start at the edge and run off the part, unseen.
    kinds = (*DEFECT_KINDS, "crack")
    mixed = Scenario(
        phases=(Phase(80.0),), seed=4, designs=(design,), defect_rate=0.6, defects=kinds, **LOOK
    )
    truth = render_line(mixed, tmp / "shift.mp4")
    config = load_config(config_path)
    inspector = load_inspector(config)
    assert inspector.enabled
    counted = list(iter_counted_parts(truth.path, config))
    results: dict[str, list[bool]] = defaultdict(list)
    unmatched = 0
    for part in counted:
        match = min(truth.counted, key=lambda p: abs((p.t_count or 0.0) - part.t))
        if abs((match.t_count or 0.0) - part.t) > 0.2:
            unmatched += 1
            continue
        kind = match.defect or "good"
        if kind != "good":
            visible = int(render_part(match.spec, match.angle).defect_mask.sum())
            if visible < MIN_VISIBLE_PX:
                continue  # drawn off the part: nothing to see
        results[kind].append(not inspector.inspect(part.views).good)
    return design, results, unmatched, len(truth.counted), config_path, truth


def test_good_parts_pass(shift):
    design, results, unmatched, total, _, _ = shift
    assert unmatched <= 0.05 * total
    flagged = results["good"]
    assert len(flagged) >= 30
    print(design, "good parts rejected", sum(flagged), "of", len(flagged))
    assert sum(flagged) / len(flagged) <= 0.01, (design, sum(flagged), len(flagged))


def test_each_defect_kind_is_caught(shift):
    design, results, *_ = shift
    recall = {k: (sum(results[k]) / len(results[k]), len(results[k])) for k in DEFECT_KINDS}
    print(design, recall)
    assert all(n >= 5 for _, n in recall.values()), recall
    assert all(r >= 0.95 for r, _ in recall.values()), recall


def test_replay_reports_verdicts_and_keeps_pictures(shift, tmp_path):
    """`oee-agent replay` loads the taught model: parts carry verdicts, rejects a picture."""
    design, results, _, _, config_path, truth = shift
    report_path = tmp_path / "report.json"
    db = tmp_path / "line.db"
    argv = ["replay", str(truth.path), "--config", str(config_path), "--db", str(db)]
    assert main([*argv, "--report", str(report_path)]) == 0
    parts = json.loads(report_path.read_text())["parts"]
    rejected = [p for p in parts if not p["good"]]
    expected = sum(sum(flags) for kind, flags in results.items() if kind != "good")
    assert abs(len(rejected) - expected) <= 0.1 * expected + 2, (len(rejected), expected)
    assert all(p["defect"] == "anomaly" and p["score"] > 1.0 for p in rejected)
    assert all(p["defect"] is None and 0 <= p["score"] <= 1.0 for p in parts if p["good"])
    pictures = list(load_config(config_path).images_dir.glob("*.png"))
    assert len(pictures) == len(rejected)


def test_teach_from_a_live_camera(tmp_path, monkeypatch):
    """Without VIDEO, teach reads `[camera] source` (here a recording played 4x fast)."""
    from agent.capture import sources

    footage = render_line(
        Scenario(phases=(Phase(28.0),), seed=8, designs=("hex",), **LOOK), tmp_path / "cam.mp4"
    )
    config_path = tmp_path / "line.toml"
    taught_line_config(config_path, footage, tmp_path / "model")
    real_open = sources.open_source

    def fast(camera, clock, **kwargs):
        return real_open(camera, clock, pace_s=1.0 / (4 * footage.fps), **kwargs)

    monkeypatch.setattr(sources, "open_source", fast)
    assert main(["teach", "--config", str(config_path)]) == 0
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["teach"]["parts"] >= 30
    assert manifest["backbone"]["name"] == "effnet_lite0_patch_int8"
