"""The optional int8 defect classifier names what the anomaly model rejected."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from agent.config import Config
from agent.inspection.classifier import CLASSIFIER_FILE, DefectClassifier
from agent.inspection.fit import fit_line
from agent.inspection.inspector import TaughtInspector
from agent.inspection.loader import load_inspector
from agent.inspection.persist import save_taught
from agent.inspection.runtime import MODELS_DIR
from agent.inspection.samples import sample_defects, sample_part
from agent.sim.parts import DEFECT_KINDS

EXAMPLE = MODELS_DIR / "sim_washer_classifier"


@pytest.fixture(scope="module")
def classifier() -> DefectClassifier:
    return DefectClassifier(EXAMPLE / CLASSIFIER_FILE)


def test_example_classifier_names_each_kind_of_new_parts(classifier):
    assert classifier.interpreter.get_input_details()[0]["dtype"] == np.int8
    assert set(classifier.labels) == {"good", *DEFECT_KINDS}
    rng = np.random.default_rng(1234)
    accuracy = {}
    for kind in ("good", *DEFECT_KINDS):
        if kind == "good":
            parts = [sample_part(rng, "washer", views=1) for _ in range(15)]
        else:
            parts = sample_defects(rng, "washer", kind, 15, views=1)
        named = [classifier.classify(p.views[0].image)[0] for p in parts]
        accuracy[kind] = np.mean([n == kind for n in named])
    print(accuracy)
    # A named class is a convenience on top of the reject; a scratch it misses reads "anomaly".
    assert np.mean(list(accuracy.values())) >= 0.9, accuracy
    assert all(a >= 0.7 for a in accuracy.values()), accuracy


def test_rejected_parts_carry_the_class_name(tmp_path):
    rng = np.random.default_rng(77)
    good = [sample_part(rng, "washer").views for _ in range(36)]
    model_dir = tmp_path / "model"
    save_taught(fit_line(good, None), model_dir, None)
    for ext in (".tflite", ".json"):
        shutil.copy(EXAMPLE / f"defect_classifier{ext}", model_dir / f"defect_classifier{ext}")
    config = Config.model_validate(
        {
            "line": {"id": "l", "ideal_cycle_s": 1},
            "inspection": {"model_dir": str(model_dir)},
        }
    )
    inspector = load_inspector(config)
    assert isinstance(inspector, TaughtInspector) and inspector.classifier is not None
    named = []
    for kind in ("missing_hole", "stain", "wrong_colour"):
        verdict = inspector.inspect(sample_defects(rng, "washer", kind, 1)[0].views)
        assert not verdict.good
        named.append(verdict.defect == kind)
    assert sum(named) >= 2, named
    assert inspector.inspect(sample_part(rng, "washer").views).defect is None
    # teaching the line again keeps its classifier
    save_taught(fit_line(good, None), model_dir, None)
    assert (model_dir / CLASSIFIER_FILE).is_file()
    assert (model_dir / "defect_classifier.json").is_file()
