"""Suggestions from the supervisors' examples: nearest codes, never an unassigned one."""

from dataclasses import replace

import numpy as np
import pytest

from agent.causes import Cause
from agent.causes.learn import Example, features, suggest, unit
from agent.causes.rules import builtin_cause
from agent.causes.scene import SceneDescription, ViewCheck

BUILTIN = Cause("machine", 0.8)


def _scene(layout: str, load: float, at_outfeed: bool = False, moving: bool = False):
    runs = {"empty": 0.0, "spaced": 1.0, "queued": 5.0, "piled": 1.6}[layout]
    return SceneDescription(
        moving=moving,
        load=load,
        layout=layout,
        gather_at=0.9 if at_outfeed else 0.5,
        at_outfeed=at_outfeed,
        longest_run=runs,
        density=1.6 if layout == "piled" else 1.0,
        spread=1.9 if layout == "piled" else 1.0,
        gap_ratio=1.0,
        view=ViewCheck(),
    )


QUEUED = _scene("queued", 5.0, at_outfeed=True)
SPACED = _scene("spaced", 3.5)
PILED = _scene("piled", 4.0)


def _examples(code: str, scene: SceneDescription, n: int = 5) -> list[Example]:
    rng = np.random.default_rng(len(code))
    out = []
    for _ in range(n):
        builtin = builtin_cause(scene).code
        jitter = rng.normal(0, 0.03, size=features(scene, builtin).shape).astype(np.float32)
        out.append(Example(code, features(scene, builtin) + jitter, builtin=builtin))
    return out


def test_without_examples_the_builtin_cause_stands() -> None:
    assert suggest(SPACED, None, [], BUILTIN) == BUILTIN


def test_the_nearest_examples_name_the_lines_own_code() -> None:
    examples = _examples("outfeed_full", QUEUED) + _examples("drive_fault", SPACED)
    cause = suggest(QUEUED, None, examples, BUILTIN)
    assert cause.code == "outfeed_full" and cause.source == "learned"
    assert cause.confidence > 0.6
    assert suggest(SPACED, None, examples, BUILTIN).code == "drive_fault"


def test_a_code_never_assigned_is_never_suggested() -> None:
    examples = _examples("outfeed_full", QUEUED)
    # a pile looks like nothing anyone labelled: the built-in cause, not "outfeed_full"
    assert suggest(PILED, None, examples, Cause("jam", 0.9)) == Cause("jam", 0.9)
    # nor a code the line no longer lists
    assert suggest(QUEUED, None, examples, BUILTIN, codes=["drive_fault"]) == BUILTIN


def test_embeddings_tell_apart_scenes_the_description_cannot() -> None:
    a, b = unit(np.array([1.0, 0.0, 0.2])), unit(np.array([0.0, 1.0, 0.2]))
    spaced = features(SPACED, "machine")
    examples = [Example("lamp_off", spaced, a) for _ in range(3)]
    examples += [Example("drive_fault", spaced, b) for _ in range(3)]
    assert suggest(SPACED, a, examples, BUILTIN).code == "lamp_off"
    assert suggest(SPACED, b, examples, BUILTIN).code == "drive_fault"


def test_a_correction_is_a_new_example_that_changes_later_suggestions() -> None:
    examples = _examples("drive_fault", SPACED, n=2)
    assert suggest(SPACED, None, examples, BUILTIN).code == "drive_fault"
    # the supervisor says these halts were the operator's breaks, three times
    examples += _examples("operator_break", SPACED, n=3)
    assert suggest(SPACED, None, examples, BUILTIN).code == "operator_break"


def test_unit_vectors() -> None:
    assert np.linalg.norm(unit(np.array([3.0, 4.0]))) == pytest.approx(1.0)
    assert not unit(np.zeros(3)).any()


def test_a_stop_unlike_every_example_gets_the_code_agreed_for_its_builtin_cause() -> None:
    dark = SceneDescription(False, 0.0, "empty", None, False, 0, 0, 0, None, ViewCheck(0.1))
    shifted = replace(QUEUED, view=ViewCheck(brightness=0.5, sharpness=0.01, change=0.6))
    camera = builtin_cause(dark)
    assert camera.code == builtin_cause(shifted).code == "camera"
    examples = _examples("camera_moved", dark, n=3) + _examples("outfeed_full", QUEUED)
    cause = suggest(shifted, None, examples, builtin_cause(shifted))
    assert cause.code == "camera_moved" and cause.source == "learned"
    assert cause.confidence < builtin_cause(shifted).confidence
    # when the supervisors disagree on what such stops were, the built-in cause stands
    examples += _examples("lens_dirty", dark, n=3)
    assert suggest(shifted, None, examples, builtin_cause(shifted)).code == "camera"
