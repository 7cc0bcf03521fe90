"""The belt's light around a part, from counts per grey level, against the plain reading."""

from datetime import UTC, datetime

import cv2
import numpy as np
import pytest

from agent.counting.belt_light import BeltLight
from agent.pipeline import replay_clip
from agent.sim.line import Phase, Scenario, render_line
from tests.unit.counting.counting_helpers import missed_and_extra


def plain_light(
    image: np.ndarray, labels: np.ndarray, offset: int, y0: int, y1: int
) -> float | None:
    """The definition: the band's belt pixels, grey = mean of B, G, R, trimmed mean 20..80 %."""
    grow = y1 - y0
    rows = slice(max(0, y0 - grow), y1 + grow)
    band = image[rows]
    belt = np.ones(band.shape[:2], bool)
    parts = cv2.dilate((labels[rows] > 0).view(np.uint8), np.ones((3, 3), np.uint8)) > 0
    belt[:, offset : offset + labels.shape[1]] &= ~parts
    grey = band[belt].mean(axis=1)
    if grey.size < 50:
        return None
    low, high = np.percentile(grey, (20, 80))
    return float(grey[(grey >= low) & (grey <= high)].mean())


def scene(seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """A belt with a light gradient across it, noise, and bright parts in a window."""
    rng = np.random.default_rng(seed)
    height, width = int(rng.integers(8, 60)), int(rng.integers(20, 170))
    across = np.linspace(70, 140, height)[:, None, None]
    image = np.clip(across + rng.normal(0, 6, (height, width, 3)), 0, 255).astype(np.uint8)
    offset = int(rng.integers(0, width // 2))
    labels = np.zeros((height, int(rng.integers(offset + 1, width + 1)) - offset), np.int32)
    for label in range(1, int(rng.integers(1, 5))):
        y, x = int(rng.integers(0, height)), int(rng.integers(0, labels.shape[1]))
        h, w = int(rng.integers(2, 15)), int(rng.integers(2, 25))
        labels[y : y + h, x : x + w] = label
        image[y : y + h, offset + x : offset + x + w] = 230  # parts brighter than the belt
    return image, labels, offset


@pytest.mark.parametrize("seed", range(40))
def test_the_light_of_every_band_is_the_plain_reading(seed: int) -> None:
    image, labels, offset = scene(seed)
    light = BeltLight(image, labels, offset)
    for y0 in range(0, image.shape[0], 3):
        for y1 in (y0 + 1, y0 + 4, y0 + 11):
            expected = plain_light(image, labels, offset, y0, y1)
            got = light.around(y0, y1)
            if expected is None:
                assert got is None
            else:
                assert got == pytest.approx(expected, rel=1e-12, abs=0)


def test_parts_and_their_rim_are_not_belt() -> None:
    image = np.full((30, 100, 3), 100, np.uint8)
    labels = np.zeros((30, 100), np.int32)
    labels[10:20, 40:60] = 1
    image[9:21, 39:61] = 250  # the part and a one-pixel rim of its glare
    assert BeltLight(image, labels, 0).around(10, 20) == pytest.approx(100.0)


def test_too_little_belt_tells_no_light() -> None:
    image = np.full((3, 10, 3), 100, np.uint8)  # 30 pixels: under the 50 needed
    assert BeltLight(image, np.zeros((3, 10), np.int32), 0).around(1, 2) is None


def masked_light(
    image: np.ndarray, labels: np.ndarray, offset: int, y0: int, y1: int
) -> float | None:
    """The reading from counts made the straightforward way: a mask of the band's belt
    pixels, their levels counted, the kept levels picked by a mask."""
    levels_all = image.astype(np.int64).sum(axis=2)
    grow = y1 - y0
    first, end = max(0, y0 - grow), min(image.shape[0], y1 + grow)
    if end <= first:
        return None
    parts = cv2.dilate((labels > 0).view(np.uint8), np.ones((1, 3), np.uint8)).view(bool)
    grown = parts[first:end]
    near = grown.copy()
    near[1:] |= grown[:-1]
    near[:-1] |= grown[1:]
    belt = np.ones((end - first, image.shape[1]), bool)
    belt[:, offset : offset + labels.shape[1]] = ~near
    counts = np.bincount(levels_all[first:end][belt], minlength=766)
    cumulative = np.cumsum(counts)
    if cumulative[-1] < 50:
        return None
    greys = np.arange(766, dtype=np.float64) / 3.0
    low, high = np.percentile(np.repeat(greys, counts), (20, 80))
    kept = (greys >= low) & (greys <= high)
    chosen = counts[kept]
    return float(np.dot(chosen, greys[kept]) / chosen.sum())


@pytest.mark.parametrize("seed", range(40))
def test_the_light_is_the_masked_counts_reading_to_the_bit(seed: int) -> None:
    image, labels, offset = scene(seed)
    light = BeltLight(image, labels, offset)
    for y0 in range(0, image.shape[0], 2):
        for y1 in (y0 + 1, y0 + 3, y0 + 8):
            assert light.around(y0, y1) == masked_light(image, labels, offset, y0, y1)


#: A step of light a third of the way through 30 s of the light-step look, on its dark
#: belt (grey 70, brass parts) and on a light one (170, blue parts): the belt model
#: learnt under the old light differed everywhere and never followed (a step to 0.5 on
#: the dark belt, 0.8 on the light one: a phantom part every 0.1 s from the step on).
DARK = {"colours": ("brass",)}
LIGHT = {"belt_colour": (170, 172, 168), "colours": ("blue",)}


@pytest.mark.parametrize(
    ("left", "look"), [(0.5, DARK), (0.6, DARK), (1.2, DARK), (0.8, LIGHT), (0.6, LIGHT)]
)
def test_the_belt_follows_a_step_of_light(tmp_path, left: float, look: dict) -> None:
    scenario = Scenario(
        (Phase(30.0),),
        seed=1031,
        designs=("washer",),
        size_px=(60.0, 70.0),
        noise_sigma=2.0,
        defect_rate=0.15,
        light_step=(0.3, left - 1.0),
        **look,
    )
    truth = render_line(scenario, tmp_path / "line.mp4")
    replayed = replay_clip(truth, start_wall=datetime(2026, 3, 2, 6, tzinfo=UTC))
    assert missed_and_extra(truth, [p.t for p in replayed.pipeline.counted]) == ([], [])
