"""Train a small int8 classifier for named defect classes from a folder of labelled crops.

Run from the optional `build` extra (torch, litert-torch, ai-edge-quantizer):

    .venv-build/bin/python models/train_classifier.py --crops CROPS/ --out MODEL_DIR/

`CROPS/<class>/*.png` are crops of parts (the part plus a margin, any rotation), one
folder per class; a class named `good` may be included. The network is a 4-layer CNN
(~30k parameters) on 96 x 96 RGB pixels, trained with rotation and flip augmentation,
then converted (litert-torch) and quantized to int8 (ai-edge-quantizer, static,
calibrated on the training crops). It writes `defect_classifier.tflite` and its
manifest (`defect_classifier.json`, with the labels) into MODEL_DIR; put them in a
taught line's `[inspection] model_dir` and rejected parts get the class name as their
defect instead of `anomaly`.

`--render-sim N` first renders N crops per class from the simulator (washers, the six
defect kinds and good parts) into CROPS, which is how the committed example
`models/sim_defect_classifier.tflite` was made.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from agent.inspection.classifier import square_tile

SIZE = 96
HERE = Path(__file__).resolve().parent


class SmallNet(nn.Module):
    def __init__(self, classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = [3, 16, 32, 48, 64]
        for cin, cout in zip(channels[:-1], channels[1:], strict=True):
            layers += [
                nn.Conv2d(cin, cout, 3, padding=1),
                nn.BatchNorm2d(cout),
                nn.ReLU6(),
                nn.MaxPool2d(2),
            ]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels[-1], classes)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels.permute(0, 3, 1, 2) / 255.0
        x = self.features(x).amax(dim=(2, 3))  # defects are local: the strongest response
        return torch.softmax(self.head(x), dim=1)


def render_sim(crops: Path, per_class: int, seed: int = 0) -> None:
    sys.path.insert(0, str(HERE.parent))
    from agent.inspection.samples import sample_defects, sample_part
    from agent.sim.parts import DEFECT_KINDS

    rng = np.random.default_rng(seed)
    for kind in ("good", *DEFECT_KINDS):
        folder = crops / kind
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            if kind == "good":
                part = sample_part(rng, "washer", views=1)
            else:
                part = sample_defects(rng, "washer", kind, 1, views=1)[0]
            cv2.imwrite(str(folder / f"{i:04d}.png"), part.views[0].image)


def load(crops: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    labels = sorted(p.name for p in crops.iterdir() if p.is_dir())
    xs, ys = [], []
    for index, label in enumerate(labels):
        for path in sorted((crops / label).glob("*.png")):
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                xs.append(square_tile(image, SIZE))  # exactly as the runtime tiles
                ys.append(index)
    return np.stack(xs).astype(np.float32), np.array(ys), labels


def augment(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = np.empty_like(batch)
    for i, image in enumerate(batch):
        m = cv2.getRotationMatrix2D((SIZE / 2, SIZE / 2), float(rng.uniform(0, 360)), 1.0)
        rotated = cv2.warpAffine(image, m, (SIZE, SIZE), borderMode=cv2.BORDER_REPLICATE)
        out[i] = rotated[:, ::-1] if rng.random() < 0.5 else rotated
    return out


def train(x: np.ndarray, y: np.ndarray, classes: int, epochs: int) -> SmallNet:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    net = SmallNet(classes)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    for epoch in range(epochs):
        net.train()
        order = rng.permutation(len(x))
        total = 0.0
        for start in range(0, len(x), 64):
            idx = order[start : start + 64]
            batch = torch.from_numpy(augment(x[idx], rng))
            probs = net(batch)
            loss = nn.functional.nll_loss(torch.log(probs + 1e-7), torch.from_numpy(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        print(f"epoch {epoch + 1}/{epochs}: loss {total / len(x):.3f}")
    net.eval()
    return net


def _widest(qsv: dict, new: dict) -> dict:
    if not qsv:
        return new
    return {"min": np.minimum(qsv["min"], new["min"]), "max": np.maximum(qsv["max"], new["max"])}


def export(net: SmallNet, x: np.ndarray, labels: list[str], out: Path) -> Path:
    import ai_edge_quantizer
    import litert_torch
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import calibrator

    out.mkdir(parents=True, exist_ok=True)
    f32 = out / "defect_classifier_f32.tflite"
    litert_torch.convert(net, (torch.from_numpy(x[:1]),)).export(str(f32))
    qt = ai_edge_quantizer.Quantizer(str(f32))
    qt.load_quantization_recipe(ai_edge_quantizer.recipe.static_wi8_ai8())
    sig = Interpreter(model_path=str(f32)).get_signature_list()
    key = next(iter(sig))
    name = sig[key]["inputs"][0]
    samples = [x[i : i + 1].copy() for i in range(0, len(x), max(1, len(x) // 200))]
    samples[0][0, 0, 0] = 0.0
    samples[0][0, 0, 1] = 255.0
    runner = calibrator.Calibrator(f32.read_bytes(), num_threads=2, qsv_update_func=_widest)
    runner.calibrate({key: [{name: s} for s in samples]}, qt._recipe_manager)
    path = out / "defect_classifier.tflite"
    path.unlink(missing_ok=True)
    qt.quantize(runner.get_model_qsvs()).export_model(str(path))
    f32.unlink()
    interp = Interpreter(model_path=str(path))

    def entry(d: dict) -> dict:
        q = d["quantization_parameters"]
        return {
            "name": d["name"],
            "shape": [int(s) for s in d["shape"]],
            "dtype": np.dtype(d["dtype"]).name,
            "quantization": {
                "scale": [float(s) for s in q["scales"]],
                "zero_point": [int(z) for z in q["zero_points"]],
            },
        }

    manifest = {
        "name": "defect_classifier",
        "file": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "bytes": path.stat().st_size,
        "kind": "int8",
        "labels": labels,
        "architecture": "4 x (conv 3x3, BN, ReLU6, max-pool 2) 16-32-48-64, global max, "
        "linear, softmax",
        "preprocessing": f"RGB pixels 0..255, the crop padded square and resized to {SIZE}",
        "licence": "Apache-2.0",
        "source": "trained by models/train_classifier.py",
        "inputs": [entry(d) for d in interp.get_input_details()],
        "outputs": [entry(d) for d in interp.get_output_details()],
    }
    path.with_suffix(".json").write_text(json.dumps(manifest, indent=2) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crops", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--render-sim", type=int, default=0, metavar="N")
    args = parser.parse_args()
    if args.render_sim:
        render_sim(args.crops, args.render_sim)
    x, y, labels = load(args.crops)
    print(f"{len(x)} crops, classes {labels}")
    net = train(x, y, len(labels), args.epochs)
    print("wrote", export(net, x, labels, args.out))


if __name__ == "__main__":
    main()
