"""The inference runtime behind one small function, and the backbone that uses it.

`make_interpreter` opens a `.tflite` with LiteRT (`ai-edge-litert`), falling back to
`tflite_runtime` when only that is installed; both run int8 through XNNPACK, the default
CPU delegate. A model is checked against its manifest (sha256, input/output shapes and
dtypes) before it is used: a file that differs is refused, never run.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from agent.errors import UserError

logger = logging.getLogger(__name__)

#: The models committed with the project (built by models/build_backbone.py).
MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
BACKBONE_INT8 = "effnet_lite0_patch_int8"
BACKBONE_F32 = "effnet_lite0_patch_f32"

_REBUILD = "restore it from git or rebuild it with `python models/build_backbone.py`"


def _interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise UserError(
                "no TFLite runtime: install ai-edge-litert (pip install ai-edge-litert)"
            ) from None
    return Interpreter


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_manifest(model_path: Path) -> dict[str, Any]:
    """The manifest JSON beside a model (same name, `.json`)."""
    manifest_path = model_path.with_suffix(".json")
    try:
        manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise UserError(f"model {model_path} has no manifest {manifest_path}: {_REBUILD}") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"manifest {manifest_path} is not valid JSON ({exc}): {_REBUILD}") from None
    return manifest


def make_interpreter(model_path: Path, threads: int = 1) -> Any:
    """An allocated interpreter for `model_path`, after checking it against its manifest.

    Raises:
        UserError: the file is missing, or its sha256, shapes or dtypes differ from the
            manifest (a corrupt, truncated or swapped model is never run).
    """
    model_path = Path(model_path)
    if not model_path.is_file():
        raise UserError(f"model file {model_path} is missing: {_REBUILD}")
    manifest = load_manifest(model_path)
    digest = file_sha256(model_path)
    if digest != manifest.get("sha256"):
        raise UserError(
            f"model {model_path.name} does not match its manifest (sha256 {digest[:12]}… "
            f"!= {str(manifest.get('sha256'))[:12]}…): {_REBUILD}"
        )
    interpreter = _interpreter_class()(model_path=str(model_path), num_threads=threads)
    interpreter.allocate_tensors()
    _check_tensors(model_path, "input", interpreter.get_input_details(), manifest["inputs"])
    _check_tensors(model_path, "output", interpreter.get_output_details(), manifest["outputs"])
    return interpreter


def _check_tensors(
    model_path: Path, kind: str, details: list[dict[str, Any]], expected: list[dict[str, Any]]
) -> None:
    got = [([int(s) for s in d["shape"]], np.dtype(d["dtype"]).name) for d in details]
    want = [(list(e["shape"]), e["dtype"]) for e in expected]
    if got != want:
        raise UserError(
            f"model {model_path.name} has {kind}s {got}, its manifest says {want}: {_REBUILD}"
        )


@dataclass(frozen=True, slots=True)
class PatchFeatures:
    """Backbone feature maps of one tile, dequantized to float32 (H x W x C each)."""

    stride8: np.ndarray
    stride16: np.ndarray


def _quantiser(detail: dict[str, Any]) -> np.ndarray | None:
    """The quantised value of every uint8 level, as uint8 bytes for `cv2.LUT` (None: float input).

    The same rounding and clipping as quantising each pixel, done once for all 256 levels.
    """
    dtype = np.dtype(detail["dtype"])
    if dtype == np.float32:
        return None
    scale, zero = detail["quantization"]
    info = np.iinfo(dtype)
    levels = np.round(np.arange(256, dtype=np.float32) / scale + zero)
    return np.clip(levels, info.min, info.max).astype(dtype).view(np.uint8)


class Backbone:
    """EfficientNet-Lite0 cut at its stride-8 and stride-16 blocks, int8 or float32."""

    def __init__(self, name: str = BACKBONE_INT8, threads: int = 1, models_dir: Path | None = None):
        self.path = (models_dir or MODELS_DIR) / f"{name}.tflite"
        self.interpreter = make_interpreter(self.path, threads)
        self.manifest = load_manifest(self.path)
        self._input = self.interpreter.get_input_details()[0]
        self.size = int(self._input["shape"][1])
        roles = {o["name"]: o.get("role") for o in self.manifest["outputs"]}
        self._outputs: dict[str, dict[str, Any]] = {}
        for detail in self.interpreter.get_output_details():
            role = roles.get(detail["name"]) or (
                "stride8" if detail["shape"][1] == self.size // 8 else "stride16"
            )
            self._outputs[role] = detail
        self._quantise = _quantiser(self._input)

    @property
    def channels(self) -> int:
        """Channels of the stride-8 and stride-16 maps joined, as the manifest lists them."""
        return sum(int(o["shape"][-1]) for o in self.manifest["outputs"])

    def tile(self, image_bgr: np.ndarray) -> np.ndarray:
        """The RGB uint8 tile the network takes, resized from a BGR image."""
        if image_bgr.shape[:2] != (self.size, self.size):
            interp = cv2.INTER_AREA if image_bgr.shape[0] > self.size else cv2.INTER_LINEAR
            image_bgr = cv2.resize(image_bgr, (self.size, self.size), interpolation=interp)
        return np.asarray(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))

    def features(self, image_bgr: np.ndarray) -> PatchFeatures:
        """Run the network on one BGR image (resized to its input) and dequantize."""
        rgb = self.tile(image_bgr)
        if self._quantise is None:
            value = rgb.astype(np.float32)[None]
        else:
            value = cv2.LUT(rgb, self._quantise).view(self._input["dtype"])[None]
        self.interpreter.set_tensor(self._input["index"], value)
        self.interpreter.invoke()
        maps = {}
        for role, detail in self._outputs.items():
            raw = self.interpreter.get_tensor(detail["index"])[0]
            if raw.dtype == np.float32:
                maps[role] = raw.copy()
            else:
                scale, zero = detail["quantization"]
                maps[role] = (raw.astype(np.float32) - zero) * scale
        return PatchFeatures(maps["stride8"], maps["stride16"])
