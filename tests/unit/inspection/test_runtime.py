"""The committed backbone runs through the real LiteRT interpreter and matches float32."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from agent.errors import UserError
from agent.inspection.runtime import (
    BACKBONE_F32,
    BACKBONE_INT8,
    MODELS_DIR,
    Backbone,
    file_sha256,
    make_interpreter,
)


@pytest.fixture(scope="module")
def backbones() -> tuple[Backbone, Backbone]:
    return Backbone(BACKBONE_INT8), Backbone(BACKBONE_F32)


def test_int8_model_is_fully_int8_and_matches_manifest(backbones, photos):
    int8, _ = backbones
    assert int8.manifest["licence"] == "Apache-2.0"
    assert int8.manifest["sha256"] == file_sha256(int8.path)
    details = int8.interpreter.get_input_details()[0]
    assert details["dtype"] == np.int8
    assert all(o["dtype"] == np.int8 for o in int8.interpreter.get_output_details())
    feats = int8.features(photos[0])
    s = int8.size
    assert feats.stride8.shape == (s // 8, s // 8, 40)
    assert feats.stride16.shape == (s // 16, s // 16, 112)
    assert int8.channels == 40 + 112  # what fitting draws its channel subset from
    assert np.isfinite(feats.stride8).all() and feats.stride8.std() > 0


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel(), b.ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_int8_agrees_with_float32_on_real_images(backbones, photos, textures):
    int8, f32 = backbones
    images = photos + list(textures.values())
    cos8, cos16 = [], []
    for img in images:
        q, f = int8.features(img), f32.features(img)
        cos8.append(_cosine(q.stride8, f.stride8))
        cos16.append(_cosine(q.stride16, f.stride16))
    print("cosine", np.mean(cos8), np.mean(cos16), min(cos8 + cos16))
    assert np.mean(cos8) >= 0.98, cos8
    assert np.mean(cos16) >= 0.98, cos16
    assert min(cos8 + cos16) >= 0.9


def test_the_int8_input_is_each_pixel_quantised_as_the_model_says(backbones, photos):
    """The table the backbone quantises through gives every pixel the manifest's value."""
    int8, _ = backbones
    detail = int8.interpreter.get_input_details()[0]
    scale, zero = detail["quantization"]
    rgb = int8.tile(photos[0])
    expected = np.clip(np.round(rgb.astype(np.float32) / scale + zero), -128, 127).astype(np.int8)
    int8.features(photos[0])
    assert np.array_equal(int8.interpreter.get_tensor(detail["index"])[0], expected)
    square = np.ascontiguousarray(photos[0][: int8.size, : int8.size])
    assert np.array_equal(int8.tile(square), square[:, :, ::-1])  # BGR in, RGB to the network


def test_different_inputs_give_different_features(backbones, textures):
    int8, _ = backbones
    a = int8.features(textures["brick"]).stride8
    b = int8.features(textures["grass"]).stride8
    assert _cosine(a, b) < 0.9


def _copy_model(tmp_path: Path) -> Path:
    for ext in (".tflite", ".json"):
        shutil.copy(MODELS_DIR / f"{BACKBONE_INT8}{ext}", tmp_path / f"{BACKBONE_INT8}{ext}")
    return tmp_path / f"{BACKBONE_INT8}.tflite"


def test_tampered_model_is_refused(tmp_path):
    path = _copy_model(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(UserError, match="does not match its manifest.*rebuild"):
        make_interpreter(path)


def test_manifest_shape_or_dtype_mismatch_is_refused(tmp_path):
    path = _copy_model(tmp_path)
    manifest_path = path.with_suffix(".json")
    manifest = json.loads(manifest_path.read_text())
    manifest["inputs"][0]["shape"] = [1, 96, 96, 3]
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="inputs"):
        make_interpreter(path)
    manifest["inputs"][0]["shape"] = [1, Backbone().size, Backbone().size, 3]
    manifest["inputs"][0]["dtype"] = "float32"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="float32"):
        make_interpreter(path)


def test_missing_model_or_manifest_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="missing"):
        make_interpreter(tmp_path / "nope.tflite")
    path = _copy_model(tmp_path)
    path.with_suffix(".json").unlink()
    with pytest.raises(UserError, match="no manifest"):
        make_interpreter(path)


def test_runtime_falls_back_to_tflite_runtime_then_says_what_to_install(monkeypatch):
    import sys
    import types

    from agent.inspection import runtime

    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    fallback = types.ModuleType("tflite_runtime.interpreter")

    class Interpreter:  # stands in for the other runtime's class, nothing is run
        pass

    fallback.Interpreter = Interpreter  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tflite_runtime", types.ModuleType("tflite_runtime"))
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", fallback)
    assert runtime._interpreter_class() is Interpreter

    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", None)
    with pytest.raises(UserError, match="pip install ai-edge-litert"):
        runtime._interpreter_class()
