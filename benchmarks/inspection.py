"""Inspection speed on one core: per-part latency int8 vs float32, and teach time.

    .venv/bin/python benchmarks/inspection.py [--parts 120] [--design bracket]

Parts are rendered by the simulator and seen in five views each, as the pipeline
gathers them; the inspector scores the middle three (pixels on each, the backbone on
`FEATURE_VIEWS` of them, the default; also timed on one and on three). Times are CPU
time of this process (pinned to one CPU, one interpreter thread), so a machine shared
with other work inflates them less than wall time would; the int8 and float32
backbones run on the same parts in the same run. Prints peak RSS.
"""

from __future__ import annotations  # noqa: I001 - agent before numpy: its BLAS as the agent sets it

import argparse
import os
import resource
import statistics
import time

import agent  # noqa: F401
import numpy as np

from agent.inspection import FEATURE_VIEWS
from agent.inspection.fit import fit_line
from agent.inspection.inspector import TaughtInspector
from agent.inspection.register import place
from agent.inspection.runtime import BACKBONE_F32, BACKBONE_INT8, Backbone
from agent.inspection.samples import sample_part
from agent.inspection.threshold import peak


def per_part_ms(inspector: TaughtInspector, parts: list, repeats: int = 3) -> float:
    """Median over rounds of the mean milliseconds per part."""
    rounds = []
    for _ in range(repeats):
        t0 = time.process_time()
        for views in parts:
            inspector.inspect(views)
        rounds.append((time.process_time() - t0) * 1000 / len(parts))
    return statistics.median(rounds)


def stage_ms(inspector: TaughtInspector, parts: list) -> dict[str, float]:
    """Milliseconds per view for registration and the pixel map, per call for the backbone."""
    model, reference = inspector.model, inspector.model.reference
    views = [v for p in parts for v in p[1:4]]
    t0 = time.process_time()
    appearance = model.appearance
    registered = [place(v, reference, model.side, appearance) for v in views]
    t1 = time.process_time()
    for r in registered:
        peak(model.combine(model.pixel_map(model.normalise(r.image)), None))
    t2 = time.process_time()
    backbone = inspector.backbone
    assert backbone is not None
    for r in registered[: len(parts)]:
        backbone.features(np.clip(r.image, 0, 255).astype(np.uint8))
    t3 = time.process_time()
    n = len(registered)
    return {
        "register_ms_per_view": (t1 - t0) * 1000 / n,
        "brightness_pixel_map_ms_per_view": (t2 - t1) * 1000 / n,
        "backbone_ms_per_call": (t3 - t2) * 1000 / len(parts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, default=120, help="good parts to teach on")
    parser.add_argument("--test-parts", type=int, default=60)
    parser.add_argument("--design", default="bracket")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    rng = np.random.default_rng(0)
    teach_parts = [sample_part(rng, args.design, views=5).views for _ in range(args.parts)]
    test_parts = [sample_part(rng, args.design, views=5).views for _ in range(args.test_parts)]
    int8, f32 = Backbone(BACKBONE_INT8, threads=1), Backbone(BACKBONE_F32, threads=1)

    t0 = time.process_time()
    taught = fit_line(teach_parts, int8)
    teach_s = time.process_time() - t0
    t0 = time.process_time()
    fit_line(teach_parts, None)
    teach_pixels_s = time.process_time() - t0

    on_int8 = TaughtInspector(taught, int8)
    on_f32 = TaughtInspector(taught, f32)
    pixels_only = TaughtInspector(taught, int8, feature_views=0)
    per_part_ms(on_int8, test_parts[:5], repeats=1)  # warm up
    ms_int8 = per_part_ms(on_int8, test_parts)
    others = sorted({1, 3} - {FEATURE_VIEWS})
    ms_views = {n: per_part_ms(TaughtInspector(taught, int8, n), test_parts) for n in others}
    ms_f32 = per_part_ms(on_f32, test_parts)
    ms_pixels = per_part_ms(pixels_only, test_parts)
    stages = stage_ms(on_int8, test_parts)
    stages_f32 = stage_ms(on_f32, test_parts)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"design {args.design}, 5 views per part (3 scored), one core, one thread")
    print(
        f"teach on {args.parts} parts: {teach_s:.2f} s with the int8 backbone, "
        f"{teach_pixels_s:.2f} s pixels only"
    )
    print(f"per part, int8 backbone:    {ms_int8:6.2f} ms  (on {FEATURE_VIEWS} views, the default)")
    for n, ms in ms_views.items():
        print(f"  the backbone on {n} view{'s' if n > 1 else ''}:      {ms:6.2f} ms")
    print(f"per part, float32 backbone: {ms_f32:6.2f} ms  (int8 is {ms_f32 / ms_int8:.2f}x faster)")
    print(f"per part, pixels only:      {ms_pixels:6.2f} ms")
    print(
        f"  registration {stages['register_ms_per_view']:.2f} ms/view, brightness + pixel map "
        f"{stages['brightness_pixel_map_ms_per_view']:.2f} ms/view, backbone int8 "
        f"{stages['backbone_ms_per_call']:.2f} ms vs float32 "
        f"{stages_f32['backbone_ms_per_call']:.2f} ms per call "
        f"({stages_f32['backbone_ms_per_call'] / stages['backbone_ms_per_call']:.2f}x)"
    )
    print(f"peak RSS {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
