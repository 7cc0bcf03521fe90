"""The answers `make pi-check` compares between the host and the arm64 root file system.

Run twice with the same inputs, once by the host's Python and once by the arm64
Python in the emulated root file system; `pi/compare.py` then compares the two output
folders. Each run writes `result.json` (every answer that must match) and `arrays.npz`
(model outputs and sample decoded frames, compared bit for bit or with a tolerance).

    probe.py prepare INPUTS            host only: render the clips, write configs, inputs
    probe.py run INPUTS OUT [--src .]  both sides: answer everything into OUT

What is asked:
- `models`: every `models/*.tflite` with its manifest, run by LiteRT's Interpreter on
  the same input tensors (int8 outputs must be bit-exact);
- `decode`: frames of the rendered clips as OpenCV decodes them;
- `oee`: `oee-agent oee --json` on the golden event log and on a generated day;
- `teach`: `oee-agent teach` on a clip of good production;
- `replay`: `oee-agent replay --report` on a clip with defects and a stop, inspected
  with the model `teach` wrote.
A command missing from this build is recorded as such (both sides must agree) rather
than failing the probe, so the check keeps working while stages are still landing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger("pi.probe")

#: Wall time of the first replayed frame: fixed so both sides book the same shift.
REPLAY_START = "2026-03-02T06:00:00+00:00"
#: Every this many frames, a decoded frame is kept for the pixel comparison.
FRAME_SAMPLE_EVERY = 15
#: Generous: under emulation a command runs 50-250x slower than natively.
COMMAND_TIMEOUT_S = 3600
#: Each model is run on this many input tensors.
MODEL_INPUTS = 2
#: What a build without a stage says (agent/__main__.py `_handler`).
NOT_AVAILABLE = "is not available in this build"


# --------------------------------------------------------------------------- prepare


def _scenarios() -> dict[str, Any]:
    """The teach clip (good parts only) and the replay clip (defects and a halt).

    The teach clip is long enough for `teach`'s minimum of clean parts with room to spare
    (15 s gave 28-29 clean parts of ~40 and teach refused on both sides).
    """
    from agent.sim.line import Phase, Scenario

    look = dict(width=320, height=240, size_px=(36.0, 44.0), speed_px_s=160.0, codec="MJPG")
    teach = Scenario((Phase(25.0),), seed=11, pitch_s=(0.32, 0.42), **look)  # type: ignore[arg-type]
    replay = Scenario(
        (Phase(4.0), Phase(3.0, moving=False), Phase(4.0)),
        seed=12,
        pitch_s=(0.4, 0.6),
        defect_rate=0.35,
        **look,  # type: ignore[arg-type]
    )
    return {"teach": teach, "replay": replay}


def _generated_log(seed: int = 7) -> Iterator[dict[str, Any]]:
    """Hours across a break and a shift change: parts, scrap, stops, no_data."""
    rng = np.random.default_rng(seed)
    t = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    end = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    yield {"ts": t.isoformat(), "type": "state", "state": "running"}
    while t < end:
        t += timedelta(seconds=round(float(rng.uniform(1.6, 3.0)), 3))
        roll = rng.random()
        if roll < 0.004:
            reason = [None, "changeover", "jam"][int(rng.integers(3))]
            yield {"ts": t.isoformat(), "type": "state", "state": "stopped", "reason": reason}
            t += timedelta(seconds=round(float(rng.uniform(5, 900)), 1))
            yield {"ts": t.isoformat(), "type": "state", "state": "running"}
        elif roll < 0.005:
            yield {"ts": t.isoformat(), "type": "state", "state": "no_data"}
            t += timedelta(seconds=round(float(rng.uniform(5, 120)), 1))
            yield {"ts": t.isoformat(), "type": "state", "state": "running"}
        elif roll < 0.03:
            yield {"ts": t.isoformat(), "type": "part", "good": False, "defect": "scratch"}
        else:
            yield {"ts": t.isoformat(), "type": "part", "good": True}


def _sim_config(truth: Any) -> dict[str, dict[str, Any]]:
    config: dict[str, dict[str, Any]] = truth.config(line_id="pi-check", ideal_cycle_s=0.45)
    config["camera"]["source"] = Path(truth.path).name
    config["inspection"] = {"model_dir": "taught"}
    config["store"] = {"path": "line.db"}
    return config


def prepare(inputs: Path, src: Path) -> None:
    """Render the clips and write the configs, event logs and model inputs (host only)."""
    inputs.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {"clips": {}, "models": {}, "event_logs": {}}
    try:
        from agent.sim.line import render_line
        from agent.toml_text import dumps
    except ImportError as exc:
        logger.warning("no line simulator in this build (%s): no clips", exc)
    else:
        for name, scenario in _scenarios().items():
            truth = render_line(scenario, inputs / f"{name}.avi")
            manifest["clips"][name] = {
                "file": f"{name}.avi",
                "frames": truth.frames,
                "parts": len(truth.counted),
            }
            if name == "replay":
                (inputs / "line.toml").write_text(dumps(_sim_config(truth)))

    golden = src / "tests" / "golden" / "press-3-example"
    if golden.with_suffix(".jsonl").exists():
        manifest["event_logs"]["golden"] = {
            "events": str(golden.with_suffix(".jsonl").relative_to(src)),
            "config": str(golden.with_suffix(".toml").relative_to(src)),
        }
        log = inputs / "generated.jsonl"
        log.write_text("".join(json.dumps(e) + "\n" for e in _generated_log()))
        manifest["event_logs"]["generated"] = {
            "events": "inputs:generated.jsonl",
            "config": str(golden.with_suffix(".toml").relative_to(src)),
        }

    rng = np.random.default_rng(2026)
    for model in sorted((src / "models").glob("*.tflite")):
        meta = json.loads(model.with_suffix(".json").read_text())
        tensors: dict[str, np.ndarray] = {}
        for k in range(MODEL_INPUTS):
            for j, spec in enumerate(meta["inputs"]):
                dtype = np.dtype(spec["dtype"])
                shape = tuple(spec["shape"])
                data: np.ndarray
                if dtype.kind in "iu":
                    info = np.iinfo(dtype)
                    data = rng.integers(info.min, info.max, size=shape, endpoint=True)
                else:
                    data = rng.uniform(-1.0, 1.0, size=shape)
                tensors[f"{k}:{j}"] = data.astype(dtype)
        np.savez(inputs / f"model-{model.stem}.npz", **tensors)  # type: ignore[arg-type]
        manifest["models"][model.stem] = {"file": f"models/{model.name}", "inputs": MODEL_INPUTS}
    (inputs / "manifest.json").write_text(json.dumps(manifest, indent=2))


# --------------------------------------------------------------------------- run


def _platform() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    from importlib import metadata

    for dist in ("numpy", "opencv-python-headless", "ai-edge-litert", "oee-vision"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    cpu: dict[str, str] = {}
    if platform.machine() == "aarch64":
        # qemu-user answers for the CPU QEMU_CPU names (CPU part 0xd08 = Cortex-A72).
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("CPU part", "Features"):
                cpu[key.strip()] = value.strip()
    return {
        "cpu": cpu,
        "machine": platform.machine(),
        "python": platform.python_version(),
        "qemu_cpu": os.environ.get("QEMU_CPU"),
        "versions": versions,
    }


def _sha(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def run_models(inputs: Path, src: Path, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Every committed model through LiteRT's Interpreter on the prepared tensors."""
    from ai_edge_litert.interpreter import Interpreter

    manifest = json.loads((inputs / "manifest.json").read_text())
    results: dict[str, Any] = {}
    for stem, spec in manifest["models"].items():
        interpreter = Interpreter(model_path=str(src / spec["file"]), num_threads=1)
        interpreter.allocate_tensors()
        feeds = np.load(inputs / f"model-{stem}.npz")
        outputs: dict[str, Any] = {}
        for k in range(spec["inputs"]):
            for j, detail in enumerate(interpreter.get_input_details()):
                interpreter.set_tensor(detail["index"], feeds[f"{k}:{j}"])
            interpreter.invoke()
            for j, detail in enumerate(interpreter.get_output_details()):
                out = interpreter.get_tensor(detail["index"]).copy()
                key = f"model/{stem}/{k}/{j}"
                arrays[key] = out
                outputs[key] = {
                    "dtype": out.dtype.name,
                    "shape": list(out.shape),
                    "sha256": _sha(out),
                }
        results[stem] = outputs
    return results


def run_decode(inputs: Path, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Frame counts of each clip, and every FRAME_SAMPLE_EVERY-th decoded frame."""
    import cv2

    manifest = json.loads((inputs / "manifest.json").read_text())
    results: dict[str, Any] = {}
    for name, clip in manifest["clips"].items():
        capture = cv2.VideoCapture(str(inputs / clip["file"]))
        frames = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if frames % FRAME_SAMPLE_EVERY == 0:
                arrays[f"decode/{name}/{frames}"] = frame
            frames += 1
        capture.release()
        results[name] = {"frames": frames, "samples": frames // FRAME_SAMPLE_EVERY + 1}
    return results


def _oee_agent(args: list[str], log: Path) -> dict[str, Any]:
    """Run `oee-agent` of this interpreter's environment; its exit code and outputs."""
    exe = Path(sys.executable).with_name("oee-agent")
    command = [str(exe), "--log-level", "WARNING", *args]
    started = time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        log.write_text(f"$ {' '.join(command)}\ntimed out after {COMMAND_TIMEOUT_S} s\n")
        return {"exit": "timeout", "available": True}
    log.write_text(f"$ {' '.join(command)}\n[exit {done.returncode}]\n{done.stdout}\n{done.stderr}")
    available = NOT_AVAILABLE not in done.stderr
    return {
        # How long the check takes (under emulation: never a Pi's speed); not compared.
        "seconds": round(time.monotonic() - started, 1),
        "exit": done.returncode,
        "available": available,
        "stdout": done.stdout,
        "error": done.stderr.strip().splitlines()[-1] if done.returncode else None,
    }


def run_oee(inputs: Path, src: Path, out: Path) -> dict[str, Any]:
    """`oee-agent oee --json` on each event log."""
    manifest = json.loads((inputs / "manifest.json").read_text())
    results: dict[str, Any] = {}
    for name, spec in manifest["event_logs"].items():
        events = spec["events"]
        events_path = inputs / events[7:] if events.startswith("inputs:") else src / events
        ran = _oee_agent(
            ["oee", "--events", str(events_path), "--config", str(src / spec["config"]), "--json"],
            out / f"oee-{name}.log",
        )
        stdout = ran.pop("stdout")
        ran["report"] = json.loads(stdout) if ran["exit"] == 0 else None
        results[name] = ran
    return results


def run_teach_and_replay(inputs: Path, out: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """`teach` on the good clip, then `replay` of the clip with defects inspected by it."""
    manifest = json.loads((inputs / "manifest.json").read_text())
    if not manifest["clips"]:
        missing = {"exit": None, "available": False, "error": "no line simulator"}
        return dict(missing), dict(missing)
    # Work on a copy of the config: teach writes its model beside it.
    work = out / "line"
    work.mkdir(parents=True, exist_ok=True)
    for name in ("line.toml", "teach.avi", "replay.avi"):
        (work / name).write_bytes((inputs / name).read_bytes())
    config = str(work / "line.toml")

    teach = _oee_agent(["teach", str(work / "teach.avi"), "--config", config], out / "teach.log")
    teach.pop("stdout")
    taught = work / "taught"
    teach["files"] = sorted(p.name for p in taught.iterdir()) if taught.is_dir() else []

    replay = _oee_agent(
        [
            "replay",
            str(work / "replay.avi"),
            "--config",
            config,
            "--db",
            str(work / "replay.db"),
            "--report",
            str(work / "replay.json"),
            "--start",
            REPLAY_START,
        ],
        out / "replay.log",
    )
    replay.pop("stdout")
    report = work / "replay.json"
    replay["report"] = json.loads(report.read_text()) if replay["exit"] == 0 else None
    return teach, replay


def run(inputs: Path, out: Path, src: Path) -> dict[str, Any]:
    """Answer everything; write OUT/result.json and OUT/arrays.npz."""
    out.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    result: dict[str, Any] = {"platform": _platform()}
    result["models"] = run_models(inputs, src, arrays)
    logger.info("models done")
    result["decode"] = run_decode(inputs, arrays)
    logger.info("decode done")
    result["oee"] = run_oee(inputs, src, out)
    logger.info("oee done")
    result["teach"], result["replay"] = run_teach_and_replay(inputs, out)
    logger.info("teach and replay done")
    np.savez_compressed(out / "arrays.npz", **arrays)  # type: ignore[arg-type]
    (out / "result.json").write_text(json.dumps(result, indent=1, sort_keys=True))
    return result


def main(argv: list[str] | None = None) -> int:
    """Command line of the probe."""
    parser = argparse.ArgumentParser(prog="probe.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_prepare = sub.add_parser("prepare", help="render clips and write inputs (host)")
    p_prepare.add_argument("inputs", type=Path)
    p_prepare.add_argument("--src", type=Path, default=Path.cwd())
    p_run = sub.add_parser("run", help="answer everything into OUT")
    p_run.add_argument("inputs", type=Path)
    p_run.add_argument("out", type=Path)
    p_run.add_argument("--src", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="probe: %(message)s", stream=sys.stderr)
    if args.command == "prepare":
        prepare(args.inputs, args.src.resolve())
    else:
        run(args.inputs, args.out, args.src.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
