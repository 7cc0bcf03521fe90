"""Whole-pipeline throughput against decoding alone, on the same file, in one run.

    .venv/bin/python benchmarks/pipeline.py [VIDEO --roi X Y W H --direction D] [--rounds 9]
        [--footage one-design|mixed|cleats] [--stages]

Without VIDEO it renders 40 s of 640x480 30 fps belt footage with the simulator: one
part design (a line runs one product at a time) with touching parts, a stop, flicker
and noise, or `--footage mixed` (four designs of different sizes), or `--footage cleats`
(a belt with cleats that would pass for parts: the belt-pattern model). The process is
pinned to one CPU core and OpenCV to one thread. Each round decodes the file alone,
then decodes it without the colour conversion (`grab`, the decoder's floor), then
decodes it through the whole pipeline (flow, stops, counting, crops, no inspection
model) as replay does: every frame decoded, only the frames the pipeline analyses
(`vision.analysis_fps`) converted to BGR (`VideoFileSource.read_if`); a counted part's
views are made when first read (the daemon's inspect thread, replay's inspector), so
they are made after the loop and timed apart, and a ratio with them is printed too; with events
into a list (the loop drops each frame before the next
decodes, as the decode-only loop does; the CPU time spent inside the decoder is
measured too, so the split between decoding and vision is printed), again with a loop
that holds the previous frame while the next decodes (as replay and the daemon loop
today), and with events into a SQLite store through the daemon's recorder. Rounds
interleave so machine load hits all alike. Prints the median frames per CPU-second of
each (the process's own CPU time, so other programs on a busy machine do not skew the
comparison); the ratio pipeline/decode as the median of the rounds' own ratios, each
round's, and the ratios of the medians and of the fastest runs (on a shared virtual
machine single rounds scatter by +-0.2); the pipeline's speed against real time on
that one core, and the peak RSS of the process. `--stages` then times the vision's
main stages in one more decode loop (timers around them; CPU time per analysed frame).
"""

from __future__ import annotations  # noqa: I001 - agent before cv2: numpy's BLAS as the agent sets it

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import agent  # noqa: F401
import cv2

from agent.capture import EndOfStream, Skipped
from agent.capture.file import VideoFileSource
from agent.config import parse_config
from agent.inspection import NoInspection
from agent.pipeline import LinePipeline, ListSink
from agent.recorder import Recorder
from agent.sim.line import Phase, Scenario, render_line
from agent.store import Store

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)

#: A line runs one product at a time: brackets, some touching, a stop, flicker, noise.
ONE_DESIGN = Scenario(
    (Phase(15), Phase(5, moving=False), Phase(20)),
    seed=11,
    designs=("bracket",),
    touching_rate=0.2,
    flicker=0.04,
    noise_sigma=3,
)
SCENARIOS = {
    "one-design": ONE_DESIGN,
    # a belt whose cleats would pass for parts: the belt-pattern model's path
    "cleats": replace(ONE_DESIGN, designs=("washer",), belt_pattern="cleats", belt_period_px=120.0),
    # the harder mix of the replay tests: four designs of different sizes on one belt
    "mixed": replace(
        ONE_DESIGN, designs=("washer", "bracket", "angle", "hex"), colours=("steel", "brass")
    ),
}


def decode_only(path: Path) -> tuple[int, float]:
    start = time.process_time()
    frames = 0
    with VideoFileSource(path, T0) as source:
        while True:
            try:
                source.read(0.0)
            except EndOfStream:
                break
            frames += 1
    return frames, time.process_time() - start


def grab_only(path: Path) -> tuple[int, float]:
    """Decoding without the colour conversion (`grab`): the floor under any consumer."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    start = time.process_time()
    frames = 0
    while capture.grab():
        frames += 1
    seconds = time.process_time() - start
    capture.release()
    return frames, seconds


def whole_pipeline(
    path: Path, config_data: dict, folder: Path, with_store: bool, hold: bool = False
) -> tuple[int, float, float, int, float]:
    """Decode every frame through the pipeline.

    Returns:
        (frames, CPU s, CPU s in decoding, parts, CPU s making the parts' views after).

    `hold` keeps each frame referenced while the next one decodes, as a `for`/`while`
    loop that assigns `frame = source.read()` does (replay and the daemon today): the
    decoder then writes every other frame into a buffer out of the cache. Without it the
    loop drops the frame first, as `decode_only` does.
    """
    config = parse_config(config_data)
    store = Store.open(folder / f"bench-{time.monotonic_ns()}.db") if with_store else None
    sink = Recorder(store, config) if store is not None else ListSink()
    pipeline = LinePipeline(config, NoInspection(), sink)
    clock = time.process_time_ns
    start = clock()
    decoding = 0
    frames = 0
    with VideoFileSource(path, T0) as source:
        while True:
            began = clock()
            try:
                frame = source.read_if(pipeline.due)
            except EndOfStream:
                break
            decoding += clock() - began
            pipeline.process(frame)
            if not hold:
                del frame
            frames += 1
    pipeline.close()
    if isinstance(sink, Recorder):
        sink.flush()
    elapsed = (clock() - start) / 1e9
    if store is not None:
        store.close()
    began = clock()
    for part in pipeline.counted:
        list(part.views)  # made when first read (`agent.counting.counter._Views`)
    return frames, elapsed, decoding / 1e9, len(pipeline.counted), (clock() - began) / 1e9


#: The stages `--stages` times: (module, class, method), outermost first.
STAGES = (
    ("agent.counting.roi", "RoiView", "work"),
    ("agent.flow.motion", "BeltMotion", "update"),
    ("agent.counting.counter", "PartCounter", "process"),
    ("agent.counting.segment", "BeltSegmenter", "segment"),
    ("agent.counting.segment", "BeltSegmenter", "_label"),
    ("agent.counting.segment", "BeltSegmenter", "_learn"),
    ("agent.counting.track", "Tracker", "update"),
    ("agent.counting.counter", "PartCounter", "_collect_views"),
    ("agent.counting.counter", "PartCounter", "_advance_pending"),
    ("agent.causes.watch", "StopWatcher", "observe"),
)


def stages(path: Path, config_data: dict) -> tuple[int, float, dict[str, float]]:
    """One decode loop through the pipeline with the CPU time of each of `STAGES` summed.

    Returns:
        (analysed frames, CPU seconds in `LinePipeline.process`, seconds per stage).
    """
    import importlib

    spent: dict[str, float] = {}
    originals = []
    clock = time.process_time_ns

    def timed(name: str, method):  # noqa: ANN001, ANN202 - any method
        def run(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            began = clock()
            try:
                return method(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + (clock() - began) / 1e9

        return run

    for module, owner, name in STAGES:
        cls = getattr(importlib.import_module(module), owner)
        originals.append((cls, name, cls.__dict__[name]))
        setattr(cls, name, timed(f"{owner}.{name}", cls.__dict__[name]))
    try:
        pipeline = LinePipeline(parse_config(config_data), NoInspection(), ListSink())
        analysed, total = 0, 0
        with VideoFileSource(path, T0) as source:
            while True:
                try:
                    frame = source.read_if(pipeline.due)
                except EndOfStream:
                    break
                began = clock()
                pipeline.process(frame)
                total += clock() - began
                analysed += not isinstance(frame, Skipped)
                del frame
        pipeline.close()
    finally:
        for cls, name, method in originals:
            setattr(cls, name, method)
    return analysed, total / 1e9, spent


def paired(path: Path, config_data: dict, chunk: int = 30) -> tuple[float, float]:
    """Decoding alone and the whole pipeline in alternating chunks of `chunk` frames.

    Two decoders over the same file advance in turn, so both see the same moments of
    machine load (on a shared virtual machine the speed drifts within seconds).

    Returns:
        (decode-only frames per CPU-second, whole-pipeline frames per CPU-second).
    """
    pipeline = LinePipeline(parse_config(config_data), NoInspection(), ListSink())
    clock = time.process_time_ns
    spent = {"alone": 0, "pipeline": 0}
    counts = {"alone": 0, "pipeline": 0}
    with VideoFileSource(path, T0) as alone, VideoFileSource(path, T0) as piped:
        ended = False
        while not ended:
            began = clock()
            for _ in range(chunk):
                try:
                    alone.read(0.0)
                except EndOfStream:
                    ended = True
                    break
                counts["alone"] += 1
            spent["alone"] += clock() - began
            began = clock()
            for _ in range(chunk):
                try:
                    frame = piped.read_if(pipeline.due)
                except EndOfStream:
                    ended = True
                    break
                pipeline.process(frame)
                del frame
                counts["pipeline"] += 1
            spent["pipeline"] += clock() - began
    pipeline.close()
    return (
        counts["alone"] / (spent["alone"] / 1e9),
        counts["pipeline"] / (spent["pipeline"] / 1e9),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", nargs="?", help="a recording (default: render one)")
    parser.add_argument("--roi", nargs=4, type=int, metavar=("X", "Y", "W", "H"))
    parser.add_argument("--direction", default="left_to_right")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--cpu", type=int, default=None, help="core to pin to (default: last)")
    parser.add_argument("--footage", choices=sorted(SCENARIOS), default="one-design")
    parser.add_argument(
        "--stages",
        action="store_true",
        help="also time the vision's stages (one more decode loop, timers around them)",
    )
    args = parser.parse_args()

    cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    cv2.setNumThreads(1)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.video:
            path = Path(args.video)
            if not args.roi:
                parser.error("--roi is needed with a VIDEO")
            vision = {"roi": args.roi, "direction": args.direction}
        else:
            path = folder / "belt.mp4"
            scenario = SCENARIOS[args.footage]
            t = time.perf_counter()
            truth = render_line(scenario, path)
            print(
                f"rendered {truth.frames} frames of 640x480 ({args.footage}) "
                f"in {time.perf_counter() - t:.1f} s; {len(truth.counted)} parts cross"
            )
            vision = {"roi": list(scenario.roi), "direction": scenario.direction}
        config_data = {
            "line": {"id": "bench", "ideal_cycle_s": 0.8},
            "camera": {"source": str(path), "fps": 30},
            "vision": vision,
        }
        fps_video = cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FPS) or 30.0
        decode_fps, pipeline_fps, held_fps, stored_fps, grab_fps = [], [], [], [], []
        decode_ms, in_pipeline_decode_ms, vision_ms, views_ms, with_views = [], [], [], [], []
        parts = 0
        paired_ratios = []
        for _ in range(args.rounds):
            alone_fps, piped_fps = paired(path, config_data)
            paired_ratios.append(piped_fps / alone_fps)
            frames, seconds = decode_only(path)
            decode_fps.append(frames / seconds)
            decode_ms.append(1000 * seconds / frames)
            frames, seconds = grab_only(path)
            grab_fps.append(frames / seconds)
            frames, seconds, decoding, parts, views = whole_pipeline(
                path, config_data, folder, False
            )
            pipeline_fps.append(frames / seconds)
            with_views.append(frames / (seconds + views) / decode_fps[-1])
            views_ms.append(1000 * views / max(1, parts))
            in_pipeline_decode_ms.append(1000 * decoding / frames)
            vision_ms.append(1000 * (seconds - decoding) / frames)
            frames, seconds, *_ = whole_pipeline(path, config_data, folder, False, hold=True)
            held_fps.append(frames / seconds)
            frames, seconds, *_ = whole_pipeline(path, config_data, folder, True)
            stored_fps.append(frames / seconds)
        median = statistics.median
        decode, whole = median(decode_fps), median(pipeline_fps)
        held, stored = median(held_fps), median(stored_fps)
        ratios = [w / d for w, d in zip(pipeline_fps, decode_fps, strict=True)]
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"file: {path.name}, {frames} frames at {fps_video:.1f} fps; {parts} parts counted")
        print(f"one core (cpu {cpu}), OpenCV threads 1, {args.rounds} interleaved rounds (median)")
        print(f"decode only:    {decode:8.1f} frames per CPU-second ({median(decode_ms):.3f} ms)")
        grab_ms = 1000 / median(grab_fps)
        print(
            f"  decoding without colour conversion (grab): {median(grab_fps):.1f} frames per "
            f"CPU-second ({grab_ms:.3f} ms; the conversion is {median(decode_ms) - grab_ms:.3f})"
        )
        print(
            f"whole pipeline: {whole:8.1f} frames per CPU-second (decode + vision, events listed)"
        )
        print(
            f"  of which decoding {median(in_pipeline_decode_ms):.3f} ms a frame, "
            f"the rest (vision, events) {median(vision_ms):.3f} ms a frame"
        )
        print(f"  holding each frame while the next decodes: {held:6.1f} frames per CPU-second")
        print(f"  + SQLite store: {stored:6.1f} frames per CPU-second (every event committed)")
        print(
            f"ratio pipeline/decode: {median(paired_ratios):.2f}  (target >= 0.8; median of "
            f"the rounds, each decoding alone and the pipeline in alternating 30-frame chunks)"
        )
        print(f"  per round: {' '.join(f'{r:.2f}' for r in paired_ratios)}")
        print(
            f"  of whole runs back to back: {median(ratios):.2f} (per round: "
            f"{' '.join(f'{r:.2f}' for r in ratios)}); of the medians above: "
            f"{whole / decode:.2f}; of the fastest runs: {max(pipeline_fps) / max(decode_fps):.2f}"
        )
        print(
            f"  the views, made when read (the daemon's inspect thread): "
            f"{median(views_ms):.3f} ms a part; made in the same loop, the ratio of whole "
            f"runs {median(with_views):.2f}"
        )
        print(f"ratio holding the previous frame/decode: {held / decode:.2f}")
        print(f"ratio with store/decode: {stored / decode:.2f}")
        print(f"ratio pipeline/decoding without conversion: {whole / median(grab_fps):.2f}")
        print(f"pipeline vs real time: {whole / fps_video:.1f}x  (target >= 10x)")
        print(f"peak RSS: {rss_mb:.0f} MB  (target <= 300 MB)")
        if args.stages:
            analysed, total, spent = stages(path, config_data)
            print(
                f"stages (CPU time in one decode loop, timers on; {analysed} analysed frames, "
                f"the pipeline {1e6 * total / analysed:.0f} us an analysed frame; nested "
                f"stages are inside the ones above them):"
            )
            for _, owner, method in STAGES:
                seconds = spent.get(f"{owner}.{method}", 0.0)
                print(
                    f"  {owner}.{method:24s} {1e6 * seconds / analysed:6.0f} us  "
                    f"{100 * seconds / total:4.1f} %"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
