"""Compare the host's and the arm64 answers of `pi/probe.py run`; exit 1 on a difference.

    compare.py HOST_OUT PI_OUT

Rules (why each tolerance exists is beside it):
- int8 (and every integer) model output: bit-exact;
- float32 model output: within FLOAT_RTOL of the output's range (XNNPACK's float
  kernels differ between SSE/AVX and NEON in the last bits);
- decoded frames: libjpeg-turbo's NEON and SSE paths round differently, so pixels may
  differ by a few grey levels; at most PIXEL_BAD_FRACTION of pixels may differ by more
  than PIXEL_TOLERANCE, and none by more than PIXEL_MAX;
- OEE reports: equal, field for field;
- teach: same exit, same files written;
- replay: same frames and fps, the same parts with the same verdicts and defects, the
  same stops, equal OEE; times (`t`, `start`, `end`) within one frame and scores within
  SCORE_TOLERANCE or SCORE_RTOL of the larger, since they come from the decoded pixels
  above (through the model `teach` learned from them on each side).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

FLOAT_RTOL = 1e-3
PIXEL_TOLERANCE = 4
PIXEL_BAD_FRACTION = 0.05
PIXEL_MAX = 32
#: Scores come from decoded pixels (and a model taught on them): on the probe's clip
#: the largest difference measured was 0.125 (verdicts all equal; threshold ~1).
SCORE_TOLERANCE = 0.25
#: ... or within this share of the larger: a score is the part's distance over its
#: threshold, and far above it (a defect's patch distance, since the patches judge on
#: their own) both sides' differences in teach scale with it: 2.54 against 2.92 on
#: the probe's clip, 15 %, verdicts equal. Near the threshold SCORE_TOLERANCE rules.
SCORE_RTOL = 0.2
#: Keys of a replay report whose values are times in seconds from the first frame.
TIME_KEYS = ("t", "start", "end")


def _describe(path: str, host: Any, pi: Any) -> str:
    return f"{path}: host {host!r} != arm64 {pi!r}"


def diff_json(
    host: Any, pi: Any, path: str = "", *, time_tol: float = 0.0, score_tol: float = 0.0
) -> list[str]:
    """Differences between two JSON values; times and scores within tolerances."""
    if isinstance(host, Mapping) and isinstance(pi, Mapping):
        problems: list[str] = []
        for key in sorted(set(host) | set(pi)):
            where = f"{path}.{key}" if path else str(key)
            if key not in pi:
                problems.append(f"{where}: missing on arm64 (host {host[key]!r})")
            elif key not in host:
                problems.append(f"{where}: only on arm64 ({pi[key]!r})")
            else:
                tol = time_tol if key in TIME_KEYS else score_tol if key == "score" else 0.0
                rtol = SCORE_RTOL if key == "score" else 0.0
                problems += (
                    diff_json(host[key], pi[key], where, time_tol=time_tol, score_tol=score_tol)
                    if tol == 0.0
                    else _diff_number(host[key], pi[key], where, tol, rtol)
                )
        return problems
    if isinstance(host, list) and isinstance(pi, list):
        if len(host) != len(pi):
            return [f"{path}: {len(host)} items on the host, {len(pi)} on arm64"]
        problems = []
        for i, (h, p) in enumerate(zip(host, pi, strict=True)):
            problems += diff_json(h, p, f"{path}[{i}]", time_tol=time_tol, score_tol=score_tol)
        return problems
    if host != pi or type(host) is not type(pi) and not _both_numbers(host, pi):
        return [_describe(path, host, pi)]
    return []


def _both_numbers(a: Any, b: Any) -> bool:
    return all(isinstance(x, int | float) and not isinstance(x, bool) for x in (a, b))


def _diff_number(host: Any, pi: Any, path: str, tol: float, rtol: float = 0.0) -> list[str]:
    if host is None or pi is None or not _both_numbers(host, pi):
        return [] if host == pi else [_describe(path, host, pi)]
    if math.isclose(host, pi, rel_tol=rtol, abs_tol=tol):
        return []
    apart = f"{tol:g}" + (f" and {rtol:.0%}" if rtol else "")
    return [f"{path}: host {host!r}, arm64 {pi!r} (more than {apart} apart)"]


def compare_arrays(name: str, host: np.ndarray, pi: np.ndarray) -> list[str]:
    """Model outputs and decoded frames, by the rules in the module docstring."""
    if host.shape != pi.shape or host.dtype != pi.dtype:
        return [f"{name}: host {host.dtype}{list(host.shape)} != arm64 {pi.dtype}{list(pi.shape)}"]
    if name.startswith("decode/"):
        diff = np.abs(host.astype(np.int16) - pi.astype(np.int16))
        bad = float(np.mean(diff > PIXEL_TOLERANCE))
        worst = int(diff.max(initial=0))
        if bad > PIXEL_BAD_FRACTION or worst > PIXEL_MAX:
            return [
                f"{name}: decoded pixels differ: {bad:.2%} by more than {PIXEL_TOLERANCE} grey "
                f"levels (allowed {PIXEL_BAD_FRACTION:.0%}), at most {worst} (allowed {PIXEL_MAX})"
            ]
        return []
    if host.dtype.kind in "iub":
        if not np.array_equal(host, pi):
            count = int(np.count_nonzero(host != pi))
            return [
                f"{name}: {host.dtype} output not bit-exact: {count} of {host.size} values differ"
            ]
        return []
    scale = float(np.max(np.abs(host), initial=0.0)) or 1.0
    worst_f = float(np.max(np.abs(host.astype(np.float64) - pi), initial=0.0))
    if not np.isfinite(worst_f) or worst_f > FLOAT_RTOL * scale:
        return [f"{name}: float output differs by {worst_f:g} (allowed {FLOAT_RTOL * scale:g})"]
    return []


def _compare_command(name: str, host: Mapping[str, Any], pi: Mapping[str, Any]) -> list[str]:
    """Exit codes and availability of one `oee-agent` command."""
    if host.get("available") != pi.get("available"):
        return [
            f"{name}: available on the host {host.get('available')}, on arm64 {pi.get('available')}"
        ]
    if host.get("exit") != pi.get("exit"):
        return [
            f"{name}: exit {host.get('exit')} on the host ({host.get('error')}), "
            f"{pi.get('exit')} on arm64 ({pi.get('error')})"
        ]
    return []


def _hollow(host: Mapping[str, Any]) -> list[str]:
    """Commands that failed on the host too: agreeing failures prove nothing.

    The probe's inputs are ours and teachable, so a failed `teach` or `replay` on the host
    is a broken probe (e.g. a teach clip with too few clean parts), not a platform answer.
    """
    problems = []
    for command in ("teach", "replay"):
        ran = host.get(command)
        if ran and ran.get("available", True) and ran.get("exit") != 0:
            problems.append(
                f"{command}: exit {ran.get('exit')} on the host as well ({ran.get('error')}):"
                " the probe did not exercise it"
            )
    return problems


def _integer_hashes(result: Mapping[str, Any]) -> dict[str, Any]:
    """The models section without float outputs' hashes (their arrays have a tolerance)."""
    return {
        model: {
            name: {
                k: v for k, v in out.items() if k != "sha256" or out.get("dtype", "")[:5] != "float"
            }
            for name, out in outputs.items()
        }
        for model, outputs in result.get("models", {}).items()
    }


def compare(
    host: Mapping[str, Any],
    pi: Mapping[str, Any],
    host_arrays: Mapping[str, np.ndarray],
    pi_arrays: Mapping[str, np.ndarray],
) -> list[str]:
    """Every difference between the host's and the arm64 answers (empty: they agree)."""
    problems: list[str] = []
    machine = pi.get("platform", {}).get("machine")
    if machine != "aarch64":
        problems.append(f"platform: the arm64 side ran on {machine!r}, not aarch64")

    problems += diff_json(_integer_hashes(host), _integer_hashes(pi), "models")
    problems += diff_json(host.get("decode"), pi.get("decode"), "decode")
    for name in sorted(set(host_arrays) | set(pi_arrays)):
        if name not in pi_arrays or name not in host_arrays:
            problems.append(
                f"{name}: {'missing on arm64' if name in host_arrays else 'only on arm64'}"
            )
            continue
        problems += compare_arrays(name, host_arrays[name], pi_arrays[name])

    for log in sorted(set(host.get("oee", {})) | set(pi.get("oee", {}))):
        h, p = host.get("oee", {}).get(log, {}), pi.get("oee", {}).get(log, {})
        problems += _compare_command(f"oee[{log}]", h, p)
        problems += diff_json(h.get("report"), p.get("report"), f"oee[{log}]")

    problems += _hollow(host)
    h, p = host.get("teach", {}), pi.get("teach", {})
    problems += _compare_command("teach", h, p)
    problems += diff_json(h.get("files"), p.get("files"), "teach.files")

    h, p = host.get("replay", {}), pi.get("replay", {})
    problems += _compare_command("replay", h, p)
    hr, pr = h.get("report"), p.get("report")
    if hr is not None and pr is not None:
        frame = 1.0 / float(hr.get("fps") or 1.0)
        problems += diff_json(hr, pr, "replay", time_tol=frame + 1e-9, score_tol=SCORE_TOLERANCE)
    elif hr != pr:
        problems.append(_describe("replay.report", hr is not None, pr is not None))
    return problems


def exercised(result: Mapping[str, Any]) -> list[str]:
    """What one side's answers cover, for the summary (and to spot a hollow run)."""
    lines = [f"{len(result.get('models', {}))} models through LiteRT"]
    lines.append(f"{len(result.get('decode', {}))} clips decoded")
    for log, ran in sorted(result.get("oee", {}).items()):
        lines.append(
            f"oee[{log}]: " + ("exit 0" if ran.get("exit") == 0 else str(ran.get("error")))
        )
    for command in ("teach", "replay"):
        ran = result.get(command, {})
        state = "exit 0" if ran.get("exit") == 0 else str(ran.get("error"))
        lines.append(f"{command}: {state}")
    return lines


def load(folder: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A probe output folder: result.json and arrays.npz."""
    result = json.loads((folder / "result.json").read_text())
    with np.load(folder / "arrays.npz") as npz:
        arrays = {name: npz[name] for name in npz.files}
    return result, arrays


def main(argv: list[str] | None = None) -> int:
    """Compare HOST_OUT with PI_OUT; print every difference; 0 when they agree."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: compare.py HOST_OUT PI_OUT", file=sys.stderr)
        return 2
    try:
        (host, host_arrays), (pi, pi_arrays) = load(Path(args[0])), load(Path(args[1]))
    except (OSError, ValueError) as exc:
        print(f"pi-check: FAILED: cannot read the answers: {exc}", file=sys.stderr)
        return 1
    problems = compare(host, pi, host_arrays, pi_arrays)
    print("pi-check: exercised on both: " + "; ".join(exercised(pi)))
    if problems:
        print(f"pi-check: FAILED: {len(problems)} answers differ between the host and arm64:")
        for problem in problems:
            print(f"  {problem}")
        return 1
    print("pi-check: the host and arm64 gave the same answers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
