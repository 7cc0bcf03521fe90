"""OEE engine throughput: a week of a three-shift line, timed through compute_oee.

    .venv/bin/python benchmarks/oee_engine.py [--days 7] [--parts-per-s 4] [--repeat 3]
    .venv/bin/python benchmarks/oee_engine.py --snapshot [--parts-per-s 10]

Builds the events in memory first (not timed), then times `compute_oee` over them and
prints events per second (best of --repeat runs), the time of the single pass that
turns events into floats alone, and the peak RSS of the process. The default
(7 days at 4 parts/s, a stop every ~15 minutes) is ~1.8 M events.

`--snapshot` times the daemon's `oee` snapshot over an 8-hour shift written hour by
hour into a real SQLite store (288 k events at 10 parts/s): after each hour, the
snapshot as it was made before (every event of the shift read again and given to
`compute_oee`) against `ShiftBook.update` (only the 10 s of events stored since its
last update read and folded into the running shift), median of --repeat, back to back,
in CPU time of the process (the machine may be shared).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import resource
import sys
import time
from datetime import UTC, datetime, timedelta

from agent.config import parse_config
from agent.events import Event, PartEvent, StateEvent
from agent.oee import compute_oee
from agent.oee.engine import _split

CONFIG = {
    "line": {"id": "bench", "ideal_cycle_s": 0.22, "timezone": "Europe/Berlin"},
    "downtime": {"micro_stop_max_s": 120},
    "shift": [
        {"name": "early", "start": "06:00", "end": "14:00", "breaks": [["10:00", "10:30"]]},
        {"name": "late", "start": "14:00", "end": "22:00", "breaks": [["18:00", "18:30"]]},
        {
            "name": "night",
            "start": "22:00",
            "end": "06:00",
            "breaks": [["23:45", "00:15"], ["02:00", "02:30"]],
        },
    ],
    "reason": [
        {"code": "changeover", "loss": "setup"},
        {"code": "fault", "loss": "breakdown"},
        {"code": "cleaning", "loss": "planned"},
    ],
}


def build_events(
    days: float, parts_per_s: float, seed: int = 1, start: datetime | None = None
) -> list[Event]:
    """Running stretches of 5-25 min with parts, then a stop of 5 s to 30 min."""
    rng = random.Random(seed)
    t = (start or datetime(2026, 3, 23, 6, tzinfo=UTC)).timestamp()  # Berlin's DST week
    end = t + days * 86400
    step = 1.0 / parts_per_s
    events: list[Event] = []
    reasons = [None, None, "changeover", "fault", "cleaning", "starved"]
    while t < end:
        events.append(StateEvent(datetime.fromtimestamp(t, UTC), "running"))
        run_until = min(end, t + rng.uniform(300, 1500))
        x = t
        while x < run_until:
            events.append(PartEvent(datetime.fromtimestamp(x, UTC), good=rng.random() > 0.02))
            x += step
        t = run_until
        if t >= end:
            break
        kind = "no_data" if rng.random() < 0.02 else "stopped"
        reason = rng.choice(reasons) if kind == "stopped" else None
        events.append(StateEvent(datetime.fromtimestamp(t, UTC), kind, reason))
        # most stops are small ones; one in four is downtime
        t += rng.uniform(5, 120) if rng.random() < 0.75 else rng.uniform(120, 1800)
    return events


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def snapshot(parts_per_s: float, repeat: int) -> int:
    """Snapshot cost through an 8 h shift: all events re-read vs the running shift."""
    import tempfile
    from pathlib import Path
    from statistics import median

    from agent.events import new_id
    from agent.shifts import ShiftBook
    from agent.store import Store

    config = parse_config(CONFIG)
    shift_start = datetime(2026, 3, 24, 5, tzinfo=UTC)  # 06:00 in Berlin: the early shift
    events = build_events(7.9 / 24, parts_per_s, start=shift_start)
    events = [dataclasses.replace(e, id=new_id()) for e in events]
    step = timedelta(seconds=10)  # what the daemon stores between two snapshots
    print("CPU time per snapshot (median of --repeat)")
    print("hour | events in the shift | re-read + compute_oee | ShiftBook.update (new only)")
    with tempfile.TemporaryDirectory() as folder, Store.open(Path(folder) / "line.db") as store:
        book = ShiftBook(config, store, store, lambda _: None)
        written = 0
        for hour in range(1, 9):
            upto = shift_start + timedelta(hours=hour) - step * (repeat + 1)
            batch = [e for e in events[written:] if e.ts < upto]
            for i in range(0, len(batch), 20_000):
                store.append_many((e, ()) for e in batch[i : i + 20_000])
            written += len(batch)
            book.update(upto)  # the first update of the hour folds the hour's events in
            full, running = [], []
            for k in range(repeat):
                until = upto + step * (k + 1)
                batch = [e for e in events[written:] if e.ts < until]
                store.append_many((e, ()) for e in batch)
                written += len(batch)
                t0 = time.process_time()
                shift = store.events(start=shift_start, with_state_before=True)
                compute_oee(shift, config, observed_until=until).current_shift(until)
                full.append(time.process_time() - t0)
                t0 = time.process_time()
                book.update(until)
                running.append(time.process_time() - t0)
            print(
                f"{hour:4} | {written:19,} | {1000 * median(full):18.1f} ms | "
                f"{1000 * median(running):8.2f} ms"
            )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--parts-per-s", type=float, default=None, help="default 4 (10)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--snapshot", action="store_true", help="the daemon's oee snapshot")
    args = parser.parse_args()
    if args.snapshot:
        return snapshot(args.parts_per_s or 10.0, args.repeat)
    args.parts_per_s = args.parts_per_s or 4.0

    config = parse_config(CONFIG)
    t0 = time.perf_counter()
    events = build_events(args.days, args.parts_per_s)
    built = time.perf_counter() - t0
    rss_events = peak_rss_mib()
    print(f"built {len(events):,} events in {built:.1f} s (peak RSS {rss_events:.0f} MiB)")

    best = float("inf")
    best_split = float("inf")
    report = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        _split(events)
        best_split = min(best_split, time.perf_counter() - t0)
        t0 = time.perf_counter()
        report = compute_oee(events, config)
        best = min(best, time.perf_counter() - t0)
    assert report is not None
    total = report.total
    print(
        f"compute_oee: {best:.3f} s for {len(events):,} events = "
        f"{len(events) / best:,.0f} events/s (best of {args.repeat}, one core)"
    )
    print(f"  the single pass over the events alone: {best_split:.3f} s")
    print(
        f"  {len(report.shifts)} shifts, {total.total:,} parts, OEE {total.oee:.4f}, "
        f"A {total.availability:.4f} P {total.performance:.4f} Q {total.quality:.4f}"
    )
    print(f"peak RSS {peak_rss_mib():.0f} MiB (events alone {rss_events:.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
