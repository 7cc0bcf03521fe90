"""Scene descriptions and built-in causes from masks drawn by hand."""

import cv2
import numpy as np
import pytest

from agent.causes import BUILTIN_CAUSES
from agent.causes.rules import builtin_cause
from agent.causes.scene import SceneDescription, UsualScene, ViewCheck, ViewStats, describe

USUAL = UsualScene(part_length=16, part_width=16, part_area=200, gap=16)
ALONG, ACROSS = 160, 50


def _mask(discs: list[tuple[float, float]], radius: int = 8) -> np.ndarray:
    mask = np.zeros((ACROSS, ALONG), np.uint8)
    for x, y in discs:
        cv2.circle(mask, (round(x), round(y)), radius, 1, -1)
    return mask


def test_an_empty_belt_is_empty_and_starved() -> None:
    scene = describe(_mask([]), moving=True, usual=USUAL)
    assert scene.layout == "empty" and scene.load == 0
    assert builtin_cause(scene).code == "starved"


def test_parts_spaced_as_usual_on_a_halted_belt_are_the_machine() -> None:
    scene = describe(_mask([(20, 25), (52, 22), (84, 27), (116, 25)]), False, USUAL)
    assert scene.layout == "spaced"
    assert scene.gap_ratio == pytest.approx(1.0, abs=0.2)
    assert builtin_cause(scene).code == "machine"


def test_parts_queued_back_from_the_outfeed_are_blocked() -> None:
    scene = describe(_mask([(ALONG - 8 - 16 * k, 25) for k in range(6)]), False, USUAL)
    assert scene.layout == "queued" and scene.at_outfeed
    assert scene.longest_run >= 5
    cause = builtin_cause(scene)
    assert cause.code == "blocked" and cause.confidence >= 0.7


def test_a_queue_that_does_not_reach_the_outfeed_is_a_jam_at_its_head() -> None:
    scene = describe(_mask([(30 + 16 * k, 25) for k in range(4)]), False, USUAL)
    assert scene.layout == "queued" and not scene.at_outfeed
    assert builtin_cause(scene).code == "jam"


def test_parts_piled_at_one_point_are_a_jam_and_say_where() -> None:
    scene = describe(_mask([(60, 12), (66, 25), (58, 36), (70, 30)]), False, USUAL)
    assert scene.layout == "piled"
    assert scene.spread >= 1.5
    assert scene.gather_at == pytest.approx(64 / ALONG, abs=0.05)
    assert builtin_cause(scene).code == "jam"


def test_a_dark_or_changed_view_is_the_camera_whatever_lies_on_the_belt() -> None:
    spaced = _mask([(20, 25), (52, 22), (84, 27)])
    for view in (ViewCheck(brightness=0.1), ViewCheck(sharpness=0.01), ViewCheck(change=0.5)):
        scene = describe(spaced, False, USUAL, view)
        assert not scene.view.normal
        assert builtin_cause(scene).code == "camera"
    assert ViewCheck(brightness=0.9, sharpness=0.5, change=0.05).normal


def test_view_stats_see_a_covered_lens_and_a_shifted_view() -> None:
    rng = np.random.default_rng(3)
    belt = np.full((ACROSS, ALONG), 70, np.uint8)
    belt[:, ::24] = 95  # seams
    belt = cv2.add(belt, rng.integers(0, 6, belt.shape, dtype=np.uint8))
    usual = ViewStats.of(belt)
    assert ViewStats.of(belt).against(usual).normal
    covered = cv2.GaussianBlur(cv2.convertScaleAbs(belt, alpha=0.12), (0, 0), 5)
    assert not ViewStats.of(covered).against(usual).normal
    shifted = belt.copy()
    shifted[: ACROSS // 2] = 35  # half the ROI shows the floor beside the belt
    check = ViewStats.of(shifted).against(usual)
    assert check.change > 0.2 and not check.normal


def test_descriptions_round_trip_through_json_and_read_well() -> None:
    scene = describe(_mask([(ALONG - 8 - 16 * k, 25) for k in range(5)]), False, USUAL)
    assert SceneDescription.from_json(scene.to_json()) == scene
    assert scene.summary() == f"halted, {scene.load:.1f} parts queued at the outfeed"
    assert 4.5 < scene.load < 5.5
    assert builtin_cause(scene).code in BUILTIN_CAUSES


def test_the_light_profile_is_the_median_of_each_rows_belt() -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        grey = rng.integers(0, 256, (ACROSS, ALONG), dtype=np.uint8)
        mask = np.zeros(grey.shape, np.uint8)
        for _ in range(4):  # parts covering a few rows nearly whole, or wholly
            y, x = int(rng.integers(0, ACROSS)), int(rng.integers(0, ALONG))
            mask[y : y + int(rng.integers(1, 12)), x : x + int(rng.integers(5, ALONG))] = 1
        belt = mask == 0
        values = np.where(belt, grey.astype(np.float32), np.nan)
        expected = np.full(ACROSS, np.nan, np.float32)
        shown = belt.mean(axis=1) >= 0.2
        expected[shown] = np.nanmedian(values[shown], axis=1)
        np.testing.assert_array_equal(ViewStats.of(grey, mask).profile, expected)


def test_the_belt_brightness_is_the_mean_of_its_pixels_to_the_bit() -> None:
    rng = np.random.default_rng(6)
    for _ in range(200):
        grey = rng.integers(0, 256, (ACROSS, ALONG), dtype=np.uint8)
        mask = (rng.random(grey.shape) < rng.random()).astype(np.uint8)
        belt = mask == 0
        stats = ViewStats.of(grey, mask)
        if np.count_nonzero(belt) / belt.size >= 0.2:
            assert stats.brightness == float(grey[belt].mean())
        else:  # too little belt: the whole view
            assert stats.brightness == float(grey.mean())


def test_view_stats_want_an_8_bit_image() -> None:
    with pytest.raises(ValueError, match="8-bit"):
        ViewStats.of(np.zeros((ACROSS, ALONG), np.float32))
