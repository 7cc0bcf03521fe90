"""Measure the committed backbone and write models/MODEL_CARD.md.

Runs in the project's own venv (no build tools needed):

    .venv/bin/python models/measure_backbone.py

Latency is one thread, CPU time (median of repeated invokes, so other work on the
machine inflates it less than wall time); agreement is the cosine between the
int8 and float32 feature maps on real images nobody here made (Debian opencv-doc photos
and scikit-image textures). Figures come from whatever machine runs it: the committed
card was written on a loaded, shared 2-core x86 machine.
"""

from __future__ import annotations

import glob
import json
import platform
import time
from pathlib import Path

import cv2
import numpy as np

from agent.inspection.runtime import BACKBONE_F32, BACKBONE_INT8, MODELS_DIR, Backbone

OPENCV_DATA = "/usr/share/doc/opencv-doc/examples/data"


def images() -> list[np.ndarray]:
    out = []
    for path in sorted(glob.glob(f"{OPENCV_DATA}/*.jpg")):
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is not None and min(img.shape[:2]) >= 64:
            out.append(img)
    try:
        import skimage.data

        for name in ("brick", "grass", "gravel"):
            out.append(cv2.cvtColor(getattr(skimage.data, name)(), cv2.COLOR_GRAY2BGR))
    except ImportError:
        pass
    return out


def latency_ms(backbone: Backbone, image: np.ndarray, repeats: int = 50) -> float:
    backbone.features(image)
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        backbone.features(image)
        times.append(time.process_time() - t0)
    return float(np.median(times) * 1000)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel(), b.ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def main() -> None:
    int8, f32 = Backbone(BACKBONE_INT8, threads=1), Backbone(BACKBONE_F32, threads=1)
    imgs = images()
    c8 = [cosine(int8.features(i).stride8, f32.features(i).stride8) for i in imgs]
    c16 = [cosine(int8.features(i).stride16, f32.features(i).stride16) for i in imgs]
    tile = cv2.resize(imgs[0], (int8.size, int8.size), interpolation=cv2.INTER_AREA)
    lat8, lat32 = latency_ms(int8, tile), latency_ms(f32, tile)
    m8 = json.loads((MODELS_DIR / f"{BACKBONE_INT8}.json").read_text())
    m32 = json.loads((MODELS_DIR / f"{BACKBONE_F32}.json").read_text())
    s = int8.size
    q_in = m8["inputs"][0]["quantization"]
    q_text = f"scale {q_in['scale'][0]:g}, zero point {q_in['zero_point'][0]}"
    outs = f"stride 8: {s // 8}x{s // 8}x40, stride 16: {s // 16}x{s // 16}x112"
    card = f"""# Model card: inspection backbone (EfficientNet-Lite0 patch features)

| | int8 | float32 |
| --- | --- | --- |
| file | `{m8["file"]}` | `{m32["file"]}` |
| size | {m8["bytes"] / 1024:.0f} KiB | {m32["bytes"] / 1024:.0f} KiB |
| input | {s}x{s}x3 int8 (pixels, {q_text}) | {s}x{s}x3 float32 (pixels 0..255) |
| outputs | {outs}, int8 | same, float32 |
| latency, 1 thread (median CPU time) | {lat8:.2f} ms | {lat32:.2f} ms |

- **What it is**: the stem and MBConv blocks 0-10 of EfficientNet-Lite0 (ImageNet),
  returning the stride-8 and stride-16 feature maps, the mid-level "patch features"
  PaDiM-style inspection compares per position. The ImageNet normalisation
  ((x - 127) / 128) is inside the graph.
- **Source**: {m8["source"]}. Licence: {m8["licence"]}.
- **Conversion**: litert-torch (float32), then ai-edge-quantizer static int8 (weights
  per channel, activations per tensor), calibrated on {m8["calibration"].split(",", 1)[1].strip()}.
  The quantizer's default moving-average ranges clipped busy images (cosine ~0.95);
  the build keeps each tensor's widest range instead.
- **Agreement with float32** (cosine of whole feature maps, {len(imgs)} real images:
  opencv-doc photos and scikit-image textures): stride 8 mean {np.mean(c8):.4f}
  (min {min(c8):.4f}), stride 16 mean {np.mean(c16):.4f} (min {min(c16):.4f}).
- **Checked on load**: sha256, input/output shapes and dtypes against the manifest
  (`{m8["name"]}.json`); a model that differs is refused.
- **Measured on**: {platform.machine()}, Python {platform.python_version()}, a loaded,
  shared 2-core machine; rerun `python models/measure_backbone.py` on the target board.
- **Rebuild**: `python models/build_backbone.py` in a venv with the `build` extra.
- **Limits**: ImageNet features, not trained on industrial defects; no industrial
  defect data set was available offline, so quality figures come from rendered parts
  and real textures with pasted defects (docs/inspection.md).
"""
    (Path(__file__).parent / "MODEL_CARD.md").write_text(card)
    print(card)


if __name__ == "__main__":
    main()
