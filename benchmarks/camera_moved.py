"""How fast a moved camera is told, and what the view check costs (`agent/capture/view.py`).

    .venv/bin/python benchmarks/camera_moved.py [--seeds 31,32,33] [--json OUT.json]

For each seed, renders a running line (640 x 480, 20 fps, 10 s) and, from 3 s on, the
same footage with the view changed (`agent.sim.camera.disturb`: shifted, rotated,
blurred, darkened). A `ViewWatch` (the daemon's: a check every 0.25 s, three in a row
to decide) is taught on the first frame and fed the frames on the footage's own time
line. Printed per change: how often it was told, the delay from the change to the
verdict (median and worst over seeds), and false verdicts on the untouched footage. The
thresholds were set on seeds 11 and 12; the default seeds are others. Cost: the median
time of one check on this machine (the only timed figure).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.capture.view import ViewReference, ViewWatch, compare  # noqa: E402
from agent.sim.camera import disturb  # noqa: E402
from agent.sim.line import Phase, Scenario, render_frames  # noqa: E402

FPS = 20.0
CHANGE_AT_S = 3.0
CHANGES = [
    ("shift", 2.0),
    ("shift", 4.0),
    ("shift", 8.0),
    ("rotate", 1.0),
    ("rotate", 2.0),
    ("rotate", 4.0),
    ("blur", 1.5),
    ("blur", 3.0),
    ("darken", 0.4),
    ("darken", 0.2),
]


def delay(frames: list, roi: tuple[int, int, int, int], change: tuple[str, float] | None):
    """Seconds from the change (untouched: from the start) to the first wrong-view
    verdict, or None if there was none."""
    watch = ViewWatch(roi)
    watch.teach(frames[0])
    for index, image in enumerate(frames):
        mono = index / FPS
        if change is not None and mono >= CHANGE_AT_S:
            image = disturb(image, *change)
        if watch.update(mono, image) and watch.problem is not None:
            return mono - (CHANGE_AT_S if change is not None else 0.0)
    return None


def check_ms(frames: list, roi: tuple[int, int, int, int]) -> float:
    reference = ViewReference.of(frames[0], roi)
    times = []
    for image in frames[1::5]:
        began = time.perf_counter()
        compare(reference, image)
        times.append(time.perf_counter() - began)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="31,32,33")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows: dict[str, list[float | None]] = {"untouched": []}
    costs = []
    for seed in seeds:
        scenario = Scenario(phases=(Phase(10.0),), width=640, height=480, fps=FPS, seed=seed)
        frames = [image for image, _, _ in render_frames(scenario)]
        costs.append(check_ms(frames, scenario.roi))
        rows["untouched"].append(delay(frames, scenario.roi, None))
        for change in CHANGES:
            rows.setdefault(f"{change[0]} {change[1]:g}", []).append(
                delay(frames, scenario.roi, change)
            )
    print(f"seeds {seeds}; a check costs {statistics.median(costs):.2f} ms (640 x 480, median)")
    print(f"{'change':<12} {'told':>6} {'median s':>9} {'worst s':>8}")
    summary = {}
    for name, delays in rows.items():
        told = [d for d in delays if d is not None]
        median = statistics.median(told) if told else None
        worst = max(told) if told else None
        summary[name] = {"told": len(told), "of": len(delays), "median_s": median, "worst_s": worst}
        shown = (
            f"{median:9.2f} {worst:8.2f}"
            if median is not None and worst is not None
            else f"{'-':>9} {'-':>8}"
        )
        print(f"{name:<12} {len(told):>3}/{len(delays):<2} {shown}")
    if args.json:
        args.json.write_text(json.dumps({"seeds": seeds, "rows": summary}, indent=1))


if __name__ == "__main__":
    main()
