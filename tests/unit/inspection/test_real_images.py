"""Real images nobody here made, with synthetic defects pasted in: image AUROC >= 0.95.

Textures (scikit-image's brick, grass, gravel): tiles cut at random places are the
"good parts" of a textured surface, compared without registration. Photos (Debian
opencv-doc): one scene seen again and again with a small jitter of position,
brightness and noise, as a fixed camera sees parts in a fixture.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from agent.inspection import PartCrop
from agent.inspection.fit import fit_line
from agent.inspection.inspector import TaughtInspector
from agent.inspection.runtime import Backbone

TILE = 96
GOOD_TEACH, GOOD_TEST, BAD_TEST = 60, 30, 40


def auroc(good: list[float], bad: list[float]) -> float:
    """Probability that a random defective image scores above a random good one."""
    g, b = np.asarray(good)[:, None], np.asarray(bad)[None, :]
    return float((b > g).mean() + 0.5 * (b == g).mean())


def paste_defect(tile: np.ndarray, rng: np.random.Generator, donor: np.ndarray) -> np.ndarray:
    """One synthetic defect: a scratch, a blot, a hole, or a patch of another surface."""
    out = tile.astype(np.float32).copy()
    h, w = tile.shape[:2]
    cx, cy = (int(v) for v in rng.integers(20, min(h, w) - 20, size=2))
    kind = int(rng.integers(4))
    mask = np.zeros((h, w), np.uint8)
    if kind == 0:  # scratch: a thin bright or dark line
        angle = rng.uniform(0, np.pi)
        dx, dy = 14 * np.cos(angle), 14 * np.sin(angle)
        cv2.line(mask, (int(cx - dx), int(cy - dy)), (int(cx + dx), int(cy + dy)), 255, 2)
        value = 255.0 if out.mean() < 128 else 0.0
    elif kind == 1:  # blot: a dark soft stain
        cv2.ellipse(mask, (cx, cy), (9, 6), float(rng.uniform(0, 180)), 0, 360, 255, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), 2)
        value = 20.0
    elif kind == 2:  # hole
        cv2.circle(mask, (cx, cy), 6, 255, -1)
        value = 0.0
    else:  # a patch of another surface (CutPaste)
        cv2.rectangle(mask, (cx - 9, cy - 9), (cx + 9, cy + 9), 255, -1)
        alpha = mask.astype(np.float32)[:, :, None] / 255.0
        return (out * (1 - alpha) + donor.astype(np.float32) * alpha).astype(np.uint8)
    alpha = mask.astype(np.float32)[:, :, None] / 255.0
    return (out * (1 - alpha) + value * alpha).astype(np.uint8)


def random_tile(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    y, x = int(rng.integers(0, h - TILE)), int(rng.integers(0, w - TILE))
    return image[y : y + TILE, x : x + TILE].copy()


def jittered(scene: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same scene as a fixed camera sees it again: shifted a pixel, lit a bit differently."""
    dx, dy = rng.uniform(-1.5, 1.5, size=2)
    moved = cv2.warpAffine(
        scene,
        np.float32([[1, 0, dx], [0, 1, dy]]),
        scene.shape[1::-1],
        borderMode=cv2.BORDER_REFLECT,
    )
    noisy = moved.astype(np.float32) * rng.uniform(0.95, 1.05) + rng.normal(0, 2, scene.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def backbone() -> Backbone:
    return Backbone()


def _evaluate(make_good, make_bad, backbone, pose) -> float:
    teach = [[PartCrop(make_good())] for _ in range(GOOD_TEACH)]
    inspector = TaughtInspector(fit_line(teach, backbone, pose=pose), backbone)
    good = [inspector.inspect([PartCrop(make_good())]).score for _ in range(GOOD_TEST)]
    bad = [inspector.inspect([PartCrop(make_bad())]).score for _ in range(BAD_TEST)]
    return auroc(good, bad)


def test_textures_with_pasted_defects(textures, backbone):
    scores = {}
    for name in ("brick", "grass", "gravel"):
        rng = np.random.default_rng(len(name))
        image = textures[name]
        # the pasted patch is foreign material: brick on grass or gravel, gravel on brick
        donor_image = textures["brick" if name != "brick" else "gravel"]
        scores[name] = _evaluate(
            lambda image=image, rng=rng: random_tile(image, rng),
            lambda image=image, rng=rng, donor_image=donor_image: paste_defect(
                random_tile(image, rng), rng, random_tile(donor_image, rng)
            ),
            backbone,
            "texture",
        )
    print("texture AUROC", scores)
    assert np.mean(list(scores.values())) >= 0.97, scores
    assert min(scores.values()) >= 0.95, scores


@pytest.mark.parametrize("name", ["box.png", "fruits.jpg"])
def test_opencv_photos_with_pasted_defects(name, backbone):
    from pathlib import Path

    OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
    scene = cv2.imread(str(OPENCV_DATA / name), cv2.IMREAD_COLOR)
    assert scene is not None, f"opencv-doc image {name} missing"
    scene = cv2.resize(scene, (TILE, TILE), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(len(name))
    donor = cv2.resize(cv2.imread(str(OPENCV_DATA / "baboon.jpg")), (TILE, TILE))
    score = _evaluate(
        lambda: jittered(scene, rng),
        lambda: paste_defect(jittered(scene, rng), rng, donor),
        backbone,
        "fixed",
    )
    print(name, "AUROC", score)
    assert score >= 0.95


def test_a_texture_line_is_judged_by_its_patches_on_every_view(tmp_path, textures, backbone):
    from agent.inspection.persist import MODEL_FILE, load_taught, save_taught

    rng = np.random.default_rng(3)
    gravel = textures["gravel"]

    def part(views: int) -> list[PartCrop]:
        return [PartCrop(random_tile(gravel, rng)) for _ in range(views)]

    taught = fit_line([part(1) for _ in range(36)], backbone, pose="texture")
    model_dir = save_taught(taught, tmp_path / "model", backbone)
    with np.load(model_dir / MODEL_FILE) as data:
        assert not [name for name in data.files if name.startswith("pixel_")]
    loaded = load_taught(model_dir)[0]
    assert loaded.model.pixels is None and loaded.model.patch_sigma == taught.model.patch_sigma > 0
    views = part(3)
    maps = TaughtInspector(loaded, backbone).view_maps(views)
    # one backbone view would leave the other two without any map: a median of nothing
    assert len(maps) == 3 and all(m.patch is not None and m.patch.max() > 0 for m in maps)
    assert (
        TaughtInspector(loaded, backbone).inspect(views).score
        == TaughtInspector(taught, backbone).inspect(views).score
    )
