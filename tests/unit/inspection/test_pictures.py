"""Defect pictures: a whole PNG per rejected part, the newest `keep` kept."""

import os
from pathlib import Path

import cv2
import numpy as np

from agent.inspection import Verdict
from agent.inspection.pictures import save_defect_picture


def test_pictures_are_whole_pngs_and_bounded(tmp_path: Path) -> None:
    crop = np.full((40, 50, 3), 90, np.uint8)
    heat = np.zeros((40, 50), np.float32)
    heat[10:20, 10:20] = 1.0
    verdict = Verdict(good=False, score=3.0, defect="scratch", heatmap=heat, crop=crop)
    written = []
    for i in range(5):
        path = save_defect_picture(verdict, tmp_path, f"part/{i}", keep=3)
        assert path is not None and path.parent == tmp_path
        os.utime(path, ns=(i * 10**9, i * 10**9))  # distinct ages on a coarse clock
        written.append(path)
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == sorted(p.name for p in written[-3:])  # no temporaries, oldest gone
    picture = cv2.imread(str(written[-1]))
    assert picture is not None and picture.shape[1] >= 2 * crop.shape[1]  # crop | heatmap
    left, right = (half.astype(int) for half in np.hsplit(picture, 2))
    scale = picture.shape[0] // crop.shape[0]
    hot = (slice(12 * scale, 18 * scale), slice(12 * scale, 18 * scale))
    assert np.abs(right[hot] - left[hot]).max(axis=-1).min() > 20  # heat drawn where hot
    assert np.array_equal(right[: 5 * scale, -5 * scale :], left[: 5 * scale, -5 * scale :])
    assert save_defect_picture(Verdict(good=False), tmp_path, "none", keep=3) is None
