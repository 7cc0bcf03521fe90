"""The threshold: each comparison's own limit for the false-reject rate."""

from __future__ import annotations

import numpy as np
import pytest

from agent.inspection.calibrate import with_thresholds
from agent.inspection.model import LineModel
from agent.inspection.threshold import threshold_for


def _model() -> LineModel:
    return LineModel(side=8, region=np.ones((8, 8), np.float32), pixels=None, patches=None)


def _scores(rng: np.random.Generator, n: int) -> np.ndarray:
    """Good parts' pixel, detail and patch scores: log-normal, the patches wider."""
    return np.exp(rng.normal(0.0, [0.15, 0.2, 0.3], size=(n, 3)))


def test_each_comparison_is_divided_by_its_own_limit():
    held = _scores(np.random.default_rng(1), 90)
    model, scores = with_thresholds(_model(), held, 0.01)
    assert model.pixel_scale == pytest.approx(threshold_for(held[:, 0], 0.01))
    assert model.detail_scale == pytest.approx(threshold_for(held[:, 1], 0.01))
    assert model.patch_scale == pytest.approx(threshold_for(held[:, 2], 0.01))
    assert model.patch_scale > 1.2 * model.pixel_scale  # the wider comparison's own
    assert model.threshold == 1.0
    expected = np.max(held / [model.pixel_scale, model.detail_scale, model.patch_scale], axis=1)
    assert scores == pytest.approx(expected)


def test_a_comparison_that_never_ran_is_left_out():
    held = _scores(np.random.default_rng(2), 90)
    held[:, 1:] = np.nan  # no backbone, no detail map (a model taught before it)
    model, scores = with_thresholds(_model(), held, 0.01)
    assert model.pixel_scale == pytest.approx(threshold_for(held[:, 0], 0.01))
    assert model.detail_scale == model.patch_scale == 1.0
    assert scores == pytest.approx(held[:, 0] / model.pixel_scale)
