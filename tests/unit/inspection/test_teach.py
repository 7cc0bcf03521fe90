"""Teach writes the line's model atomically; load_inspector reads it or says inspection is off."""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from dataclasses import replace

import cv2
import numpy as np
import pytest

from agent.config import Config
from agent.errors import UserError
from agent.inspection import NoInspection, Verdict
from agent.inspection.fit import fit_line
from agent.inspection.inspector import TaughtInspector
from agent.inspection.loader import load_inspector
from agent.inspection.persist import MODEL_FILE, has_taught, load_taught, save_taught
from agent.inspection.pictures import save_defect_picture
from agent.inspection.runtime import file_sha256
from agent.inspection.samples import sample_defects, sample_part
from agent.inspection.teach import run_command, teach


@pytest.fixture(scope="module")
def hex_parts():
    rng = np.random.default_rng(21)
    return [sample_part(rng, "hex").views for _ in range(36)]


def _config(tmp_path, **inspection) -> Config:
    return Config.model_validate(
        {
            "line": {"id": "press-3", "ideal_cycle_s": 0.8},
            "camera": {"source": str(tmp_path / "none.mp4")},
            "vision": {"roi": [0, 0, 640, 480]},
            "inspection": {"model_dir": str(tmp_path / "model"), **inspection},
        }
    )


def test_saved_model_loads_and_scores_the_same(tmp_path, hex_parts):
    taught = fit_line(hex_parts, None)
    save_taught(taught, tmp_path / "model", None)
    loaded, backbone_name = load_taught(tmp_path / "model")
    assert backbone_name is None
    rng = np.random.default_rng(1)
    views = sample_defects(rng, "hex", "scratch", 1)[0].views
    before = TaughtInspector(taught, None).inspect(views)
    after = TaughtInspector(loaded, None).inspect(views)
    assert before.score == after.score and not after.good


def test_a_failed_write_leaves_the_old_model_and_no_debris(tmp_path, hex_parts, monkeypatch):
    model_dir = tmp_path / "model"
    taught = fit_line(hex_parts, None)
    save_taught(taught, model_dir, None)
    manifest_before = (model_dir / "manifest.json").read_text()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", broken)
    with pytest.raises(OSError, match="disk full"):
        save_taught(taught, model_dir, None)
    assert (model_dir / "manifest.json").read_text() == manifest_before
    assert load_taught(model_dir)[0].model.threshold == taught.model.threshold
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_rewriting_replaces_the_model_whole(tmp_path, hex_parts):
    model_dir = tmp_path / "model"
    save_taught(fit_line(hex_parts, None), model_dir, None)
    save_taught(fit_line(hex_parts[:33], None), model_dir, None)
    assert load_taught(model_dir)[0].info["parts"] == 33
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_a_corrupt_model_is_refused_with_what_to_do(tmp_path, hex_parts):
    model_dir = tmp_path / "model"
    save_taught(fit_line(hex_parts, None), model_dir, None)
    with open(model_dir / MODEL_FILE, "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01\x02")
    with pytest.raises(UserError, match="teach the line again"):
        load_taught(model_dir)


def _rewrite(model_dir, drop_arrays=(), drop_scalars=()):
    """Rewrite a saved model as an older teach wrote it: without some fields."""
    with np.load(model_dir / MODEL_FILE) as data:
        arrays = {k: data[k] for k in data.files if k not in drop_arrays}
    np.savez_compressed(model_dir / MODEL_FILE, **arrays)
    manifest = json.loads((model_dir / "manifest.json").read_text())
    manifest = {k: v for k, v in manifest.items() if k not in drop_scalars}
    manifest["files"][MODEL_FILE] = file_sha256(model_dir / MODEL_FILE)
    (model_dir / "manifest.json").write_text(json.dumps(manifest))


def test_the_saved_files_keep_their_names(tmp_path, hex_parts):
    model_dir = save_taught(fit_line(hex_parts, None), tmp_path / "model", None)
    with np.load(model_dir / MODEL_FILE) as data:
        assert sorted(data.files) == [
            "background",
            "body",
            "pixel_mean",
            "pixel_sigma",
            "reference_imag",
            "reference_real",
            "region",
        ]
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert {"side", "pixel_scale", "patch_scale", "threshold", "part_scale"} <= set(manifest)
    assert {"detail_px", "detail_scale", "patterned_belt"} <= set(manifest)
    assert {"smooth_px", "brightness", "format", "files", "backbone", "teach"} <= set(manifest)


def test_a_model_saved_before_the_light_fields_loads_with_their_defaults(tmp_path, hex_parts):
    model_dir = save_taught(fit_line(hex_parts, None), tmp_path / "model", None)
    _rewrite(model_dir, ("body", "background"), ("part_scale", "smooth_px", "brightness"))
    model = load_taught(model_dir)[0].model
    assert model.body is None and model.background is None and model.brightness == 0.0
    assert model.part_scale == 0.0 and model.smooth_px == 3 and model.reference is not None
    views = sample_part(np.random.default_rng(5), "hex", views=3).views
    assert TaughtInspector(load_taught(model_dir)[0], None).inspect(views).score is not None


def test_a_model_saved_before_the_belt_kind_loads_as_a_plain_belts(tmp_path, hex_parts):
    taught = fit_line(hex_parts, None)
    patterned = replace(taught, model=replace(taught.model, patterned_belt=True))
    model_dir = save_taught(patterned, tmp_path / "model", None)
    assert load_taught(model_dir)[0].model.patterned_belt
    _rewrite(model_dir, drop_scalars=("patterned_belt",))
    assert not load_taught(model_dir)[0].model.patterned_belt  # judged as before: teach again


def test_a_model_without_its_region_is_refused(tmp_path, hex_parts):
    model_dir = save_taught(fit_line(hex_parts, None), tmp_path / "model", None)
    _rewrite(model_dir, ("region",))
    with pytest.raises(UserError, match="lacks 'region'.*teach the line again"):
        load_taught(model_dir)


def test_a_folder_without_manifest_is_not_a_model(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / MODEL_FILE).write_bytes(b"half written")
    assert not has_taught(tmp_path / "model")


def test_untaught_line_counts_without_inspection(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        inspector = load_inspector(_config(tmp_path))
    assert isinstance(inspector, NoInspection) and not inspector.enabled
    assert "inspection is off: no taught model in" in caplog.text
    assert inspector.inspect([]).good


def test_teach_then_load_inspector_with_the_int8_backbone(tmp_path, hex_parts):
    config = _config(tmp_path)
    taught = teach(hex_parts, config.model_dir, 0.01)
    assert taught.model.patches is not None
    inspector = load_inspector(config)
    assert isinstance(inspector, TaughtInspector) and inspector.enabled
    assert inspector.backbone is not None
    rng = np.random.default_rng(9)
    assert not inspector.inspect(sample_defects(rng, "hex", "missing_hole", 1)[0].views).good


def test_too_few_parts_is_refused_clearly(tmp_path, hex_parts):
    with pytest.raises(UserError, match=r"only 12 parts were counted; teach needs at least 30"):
        teach(hex_parts[:12], tmp_path / "model", 0.01)
    assert not (tmp_path / "model").exists()


def test_teach_command_refuses_missing_footage(tmp_path, line_config_file):
    config_path = line_config_file(camera={"source": "x.mp4"}, vision={"roi": [0, 0, 64, 64]})
    args = argparse.Namespace(video=str(tmp_path / "missing.mp4"), config=str(config_path))
    with pytest.raises(UserError, match="does not exist"):
        run_command(args)


def test_defect_pictures_are_written_and_bounded(tmp_path):
    crop = np.full((40, 40, 3), 120, np.uint8)
    heat = np.zeros((40, 40), np.float32)
    heat[10:20, 10:20] = 1.0
    verdict = Verdict(good=False, score=3.0, defect="anomaly", heatmap=heat, crop=crop)
    paths = []
    for i in range(5):
        paths.append(save_defect_picture(verdict, tmp_path / "defects", f"part/{i}", keep=3))
        time.sleep(0.01)
    left = sorted(p.name for p in (tmp_path / "defects").iterdir())
    assert left == ["part_2.png", "part_3.png", "part_4.png"]
    picture = cv2.imread(str(paths[-1]))
    assert picture is not None and picture.shape[1] == 2 * picture.shape[0]
    half = picture.shape[1] // 2
    # the right half is the overlay: the hot square is coloured, the rest is the crop
    hot = picture[:, half:][picture.shape[0] // 3, half // 3]
    assert not np.allclose(hot, [120, 120, 120], atol=10)
    assert np.allclose(picture[2, 2], [120, 120, 120], atol=2)
    assert save_defect_picture(Verdict(good=True), tmp_path / "d2", "x") is None
    assert not os.path.exists(tmp_path / "d2")


def test_views_without_a_part_are_not_booked_as_rejects(hex_parts):
    from agent.inspection import PartCrop

    inspector = TaughtInspector(fit_line(hex_parts, None), None)
    blank = PartCrop(np.full((60, 60, 3), 70, np.uint8))
    verdict = inspector.inspect([blank, blank])
    assert verdict.good and verdict.score is None


def test_every_clean_part_is_scored_by_a_model_fitted_without_it(hex_parts):
    """The threshold rests on all the parts (each fold held out in turn), not on a third."""
    taught = fit_line(hex_parts, None)
    assert taught.info["held_out_parts"] == taught.info["parts"] == len(hex_parts)
    assert taught.report is not None
    assert taught.report["held_out_parts"] == len(hex_parts)
