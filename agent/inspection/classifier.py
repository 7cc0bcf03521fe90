"""An optional int8 classifier that names the defect of a rejected part.

Trained from a folder of labelled crops with `models/train_classifier.py` (the build
extra); its `defect_classifier.tflite` and manifest, placed in a taught line's
`[inspection] model_dir`, make rejected parts carry a class name (`scratch`, ...)
instead of `anomaly`. The anomaly model still decides good or not; the classifier only
names what it found.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from agent.inspection.runtime import load_manifest, make_interpreter

logger = logging.getLogger(__name__)

CLASSIFIER_FILE = "defect_classifier.tflite"


def square_tile(image_bgr: np.ndarray, size: int) -> np.ndarray:
    """The crop padded square (edge pixels repeated), resized to `size`, as RGB."""
    h, w = image_bgr.shape[:2]
    side = max(h, w)
    pad_y, pad_x = side - h, side - w
    square = cv2.copyMakeBorder(
        image_bgr,
        pad_y // 2,
        pad_y - pad_y // 2,
        pad_x // 2,
        pad_x - pad_x // 2,
        cv2.BORDER_REPLICATE,
    )
    tile = cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(tile[:, :, ::-1])


class DefectClassifier:
    """Names a defect: the most probable label for a crop."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        self.interpreter = make_interpreter(path, threads)
        self.labels: list[str] = list(load_manifest(path)["labels"])
        self._input = self.interpreter.get_input_details()[0]
        self._output = self.interpreter.get_output_details()[0]
        self.size = int(self._input["shape"][1])

    def classify(self, image_bgr: np.ndarray) -> tuple[str, float]:
        """(label, probability) for one crop."""
        rgb = square_tile(image_bgr, self.size).astype(np.float32)
        if self._input["dtype"] == np.float32:
            value = rgb[None]
        else:
            scale, zero = self._input["quantization"]
            value = np.clip(np.round(rgb / scale + zero), -128, 127).astype(np.int8)[None]
        self.interpreter.set_tensor(self._input["index"], value)
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self._output["index"])[0]
        if raw.dtype != np.float32:
            scale, zero = self._output["quantization"]
            raw = (raw.astype(np.float32) - zero) * scale
        best = int(np.argmax(raw))
        return self.labels[best], float(raw[best])


def load_classifier(model_dir: Path, threads: int = 1) -> DefectClassifier | None:
    """The classifier in a taught line's folder, or None when there is none."""
    path = Path(model_dir) / CLASSIFIER_FILE
    if not path.is_file():
        return None
    classifier = DefectClassifier(path, threads)
    logger.info("defect classes: %s", ", ".join(classifier.labels))
    return classifier
