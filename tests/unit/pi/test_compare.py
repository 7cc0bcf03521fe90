"""The check of `make pi-check` itself: pi/compare.py must fail on a wrong answer.

The emulated run is not part of `make test` (minutes); these tests feed compare.py
answers that agree, answers within the documented tolerances, and deliberately wrong
ones, including real int8 outputs of the committed models.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[3]


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"pi_{name}", REPO / "pi" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


compare_mod = _load("compare")
probe_mod = _load("probe")


def _oee(good: int = 10) -> dict[str, Any]:
    return {
        "shifts": [{"shift": "A", "planned_s": 50.0, "good": good, "total": 12, "oee": 0.7479}],
        "total": {"good": good, "total": 12, "oee": 0.7479, "teep": 0.01},
    }


def _answers(machine: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    rng = np.random.default_rng(1)
    arrays: dict[str, np.ndarray] = {
        "model/m_int8/0/0": rng.integers(-128, 127, size=(1, 4, 4, 8), dtype=np.int8),
        "model/m_f32/0/0": rng.standard_normal((1, 4, 4, 8)).astype(np.float32),
        "decode/replay/0": rng.integers(0, 255, size=(24, 32, 3), dtype=np.uint8),
    }
    result: dict[str, Any] = {
        "platform": {"machine": machine, "python": "3.11.2"},
        "models": {
            "m_int8": {"model/m_int8/0/0": {"dtype": "int8", "shape": [1, 4, 4, 8], "sha256": "a"}},
            # float outputs' hashes differ between x86 and arm64; their arrays are compared
            "m_f32": {
                "model/m_f32/0/0": {"dtype": "float32", "shape": [1, 4, 4, 8], "sha256": machine}
            },
        },
        "decode": {"replay": {"frames": 330, "samples": 23}},
        "oee": {"golden": {"exit": 0, "available": True, "error": None, "report": _oee()}},
        "teach": {"exit": 0, "available": True, "error": None, "files": ["model.npz"]},
        "replay": {
            "exit": 0,
            "available": True,
            "error": None,
            "report": {
                "line": "pi-check",
                "frames": 330,
                "fps": 30.0,
                "parts": [
                    {"t": 1.2, "good": True, "score": 0.12, "defect": None},
                    {"t": 2.0, "good": False, "score": 0.91, "defect": "scratch"},
                ],
                "stops": [{"start": 4.0, "end": 7.0, "state": "stopped", "reason": None}],
                "oee": _oee()["total"],
            },
        },
    }
    return result, arrays


def _pair() -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, Any], dict[str, np.ndarray]]:
    host, host_arrays = _answers("x86_64")
    pi, pi_arrays = _answers("aarch64")
    return host, host_arrays, pi, pi_arrays


def test_the_same_answers_agree() -> None:
    host, ha, pi, pa = _pair()
    assert compare_mod.compare(host, pi, ha, pa) == []


def test_an_int8_output_hash_that_differs_fails() -> None:
    host, ha, pi, pa = _pair()
    pi["models"]["m_int8"]["model/m_int8/0/0"]["sha256"] = "b"
    assert compare_mod.compare(host, pi, ha, pa) == [
        "models.m_int8.model/m_int8/0/0.sha256: host 'a' != arm64 'b'"
    ]


def test_one_lsb_of_an_int8_output_fails() -> None:
    host, ha, pi, pa = _pair()
    pa["model/m_int8/0/0"] = pa["model/m_int8/0/0"].copy()
    pa["model/m_int8/0/0"][0, 1, 2, 3] ^= 1
    problems = compare_mod.compare(host, pi, ha, pa)
    assert len(problems) == 1
    assert "not bit-exact: 1 of 128" in problems[0]


def test_float_outputs_within_tolerance_agree_and_beyond_fail() -> None:
    host, ha, pi, pa = _pair()
    f = pa["model/m_f32/0/0"]
    pa["model/m_f32/0/0"] = f + np.float32(1e-6)
    assert compare_mod.compare(host, pi, ha, pa) == []
    pa["model/m_f32/0/0"] = f * np.float32(1.01)
    assert "float output differs" in compare_mod.compare(host, pi, ha, pa)[0]


def test_decoded_pixels_may_differ_by_a_few_grey_levels_on_a_few_percent() -> None:
    host, ha, pi, pa = _pair()
    frame = pa["decode/replay/0"].astype(np.int16)
    few = np.zeros(frame.shape, bool)
    few.flat[::50] = True  # 2 % of the pixels
    pa["decode/replay/0"] = np.clip(frame + few * 3, 0, 255).astype(np.uint8)
    assert compare_mod.compare(host, pi, ha, pa) == []

    many = np.zeros(frame.shape, bool)
    many.flat[::5] = True  # 20 % of the pixels, far off
    pa["decode/replay/0"] = np.clip(frame + many * 12, 0, 255).astype(np.uint8)
    problems = compare_mod.compare(host, pi, ha, pa)
    assert len(problems) == 1 and "decoded pixels differ" in problems[0]


def test_a_flipped_verdict_fails_and_names_the_part() -> None:
    host, ha, pi, pa = _pair()
    pi["replay"]["report"]["parts"][1]["good"] = True
    assert compare_mod.compare(host, pi, ha, pa) == [
        "replay.parts[1].good: host False != arm64 True"
    ]


def test_a_missing_part_or_stop_fails() -> None:
    host, ha, pi, pa = _pair()
    del pi["replay"]["report"]["parts"][0]
    pi["replay"]["report"]["stops"] = []
    problems = compare_mod.compare(host, pi, ha, pa)
    assert "replay.parts: 2 items on the host, 1 on arm64" in problems
    assert "replay.stops: 1 items on the host, 0 on arm64" in problems


def test_times_within_a_frame_agree_and_two_frames_off_fail() -> None:
    host, ha, pi, pa = _pair()
    pi["replay"]["report"]["parts"][0]["t"] = 1.2 + 0.5 / 30
    pi["replay"]["report"]["parts"][0]["score"] = 0.125
    assert compare_mod.compare(host, pi, ha, pa) == []
    pi["replay"]["report"]["stops"][0]["end"] = 7.0 + 2 / 30
    problems = compare_mod.compare(host, pi, ha, pa)
    assert len(problems) == 1 and problems[0].startswith("replay.stops[0].end")


def test_an_oee_figure_that_differs_fails() -> None:
    host, ha, pi, pa = _pair()
    pi["oee"]["golden"]["report"]["total"]["oee"] = 0.748
    pi["replay"]["report"]["oee"]["good"] = 9
    problems = compare_mod.compare(host, pi, ha, pa)
    assert "oee[golden].total.oee: host 0.7479 != arm64 0.748" in problems
    assert "replay.oee.good: host 10 != arm64 9" in problems


def test_a_command_failing_on_one_side_only_fails() -> None:
    host, ha, pi, pa = _pair()
    pi["teach"] = {"exit": 1, "available": True, "error": "Segmentation fault", "files": []}
    problems = compare_mod.compare(host, pi, ha, pa)
    assert problems[0] == "teach: exit 0 on the host (None), 1 on arm64 (Segmentation fault)"


def test_answers_not_from_arm64_fail() -> None:
    host, ha, pi, pa = _pair()
    pi["platform"]["machine"] = "x86_64"
    assert compare_mod.compare(host, pi, ha, pa) == [
        "platform: the arm64 side ran on 'x86_64', not aarch64"
    ]


def _write(folder: Path, result: dict[str, Any], arrays: dict[str, np.ndarray]) -> Path:
    folder.mkdir()
    (folder / "result.json").write_text(json.dumps(result))
    np.savez_compressed(folder / "arrays.npz", **arrays)  # type: ignore[arg-type]
    return folder


def test_the_command_exits_1_on_a_deliberately_wrong_expected_output(tmp_path: Path) -> None:
    host, ha, pi, pa = _pair()
    host_dir = _write(tmp_path / "host", host, ha)
    wrong = copy.deepcopy(pi)
    wrong["replay"]["report"]["stops"][0]["reason"] = "changeover"
    pi_dir = _write(tmp_path / "pi", wrong, pa)
    done = subprocess.run(
        [sys.executable, str(REPO / "pi" / "compare.py"), str(host_dir), str(pi_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "FAILED: 1 answers differ" in done.stdout
    assert "replay.stops[0].reason: host None != arm64 'changeover'" in done.stdout

    right_dir = _write(tmp_path / "pi-right", pi, pa)
    done = subprocess.run(
        [sys.executable, str(REPO / "pi" / "compare.py"), str(host_dir), str(right_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    assert "the same answers" in done.stdout


def test_real_int8_outputs_of_the_committed_models_are_caught_when_wrong(tmp_path: Path) -> None:
    models = sorted((REPO / "models").glob("*int8.tflite"))
    assert models, "no int8 model committed in models/"
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    meta = json.loads(models[0].with_suffix(".json").read_text())
    rng = np.random.default_rng(0)
    feeds = {
        f"0:{j}": rng.integers(-128, 127, size=spec["shape"], endpoint=True).astype(spec["dtype"])
        for j, spec in enumerate(meta["inputs"])
    }
    np.savez(inputs / f"model-{models[0].stem}.npz", **feeds)  # type: ignore[arg-type]
    manifest = {"models": {models[0].stem: {"file": f"models/{models[0].name}", "inputs": 1}}}
    (inputs / "manifest.json").write_text(json.dumps(manifest))

    first: dict[str, np.ndarray] = {}
    second: dict[str, np.ndarray] = {}
    answers = probe_mod.run_models(inputs, REPO, first)
    assert probe_mod.run_models(inputs, REPO, second) == answers
    assert compare_mod.compare({"models": answers}, {"models": answers}, first, second) == [
        "platform: the arm64 side ran on None, not aarch64"
    ]
    name = sorted(second)[0]
    assert second[name].dtype == np.int8
    second[name] = second[name].copy()
    second[name].flat[7] = np.int8(second[name].flat[7] ^ 1)
    problems = compare_mod.compare({"models": answers}, {"models": answers}, first, second)
    assert f"{name}: int8 output not bit-exact: 1 of {second[name].size} values differ" in problems


def test_a_command_failing_on_both_sides_is_not_proven_and_fails() -> None:
    host, ha, pi, pa = _pair()
    for side in (host, pi):
        side["teach"] = {"exit": 2, "available": True, "error": "too few clean parts", "files": []}
    problems = compare_mod.compare(host, pi, ha, pa)
    assert problems == [
        "teach: exit 2 on the host as well (too few clean parts): the probe did not exercise it"
    ]


def test_a_command_missing_from_the_build_is_not_called_hollow() -> None:
    host, ha, pi, pa = _pair()
    for side in (host, pi):
        side["teach"] = {"exit": None, "available": False, "error": "not available", "files": []}
    assert compare_mod.compare(host, pi, ha, pa) == []
