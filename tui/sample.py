"""A sample line store made of generated events: for tests, screenshots and trying the UI.

`build_sample_store(path)` writes a real store (through `agent.store`) for line
`press-3`: yesterday's shift A finished (its OEE saved as a shift result), today's
shift A from 06:00 to `SAMPLE_NOW` (08:40 UTC) with a jam, a changeover, small stops, an
unassigned stop and an open stop, and rejected parts with pictures and heatmaps.
Everything is seeded: the same store every time, so renderings of it are fixed.

    python -m tui.sample var/sample/line.db   # then: oee-tui --db var/sample/line.db
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from agent.clock import ManualClock
from agent.events import Event, PartEvent, StateEvent

#: The wall time the sample ends at: give the UI a clock stopped here.
SAMPLE_NOW = datetime(2026, 3, 3, 8, 40, tzinfo=UTC)

SAMPLE_CONFIG = """\
[line]
id = "press-3"
site = "plant-a"
area = "stamping"
ideal_cycle_s = 4.0
timezone = "UTC"

[downtime]
stop_after_s = 2.0
micro_stop_max_s = 120

[[shift]]
name = "A"
start = "06:00"
end = "14:00"
breaks = [["09:00", "09:15"], ["11:30", "12:00"]]

[[shift]]
name = "B"
start = "14:00"
end = "22:00"

[[reason]]
code = "changeover"
loss = "setup"
label = "Die change"

[[reason]]
code = "jam"
loss = "breakdown"
label = "Material jam"

[[reason]]
code = "no-material"
loss = "breakdown"
label = "Waiting for coils"

[[reason]]
code = "slow-feed"
loss = "reduced_speed"

[[reason]]
code = "meeting"
loss = "planned"
label = "Team meeting"
"""

DEFECTS = ("scratch", "dent", "crack")


def sample_clock(now: datetime = SAMPLE_NOW) -> ManualClock:
    """A clock stopped at `now` (the end of the sample)."""
    return ManualClock(start=now)


def _shift_events(
    rng: random.Random,
    day: datetime,
    until: datetime,
    stops: list[tuple[str, int, str | None]],
    prefix: str,
) -> list[Event]:
    """Parts at about 4.4 s apart from 06:00 to `until`, with stops (HH:MM, s, reason)."""
    events: list[Event] = [StateEvent(day.replace(hour=6), "running", id=f"{prefix}-run0")]
    planned = []
    for hhmm, seconds, reason in stops:
        h, m = (int(x) for x in hhmm.split(":"))
        planned.append((day.replace(hour=h, minute=m), seconds, reason))
    t = day.replace(hour=6) + timedelta(seconds=2)
    n = 0
    for start, seconds, reason in [*planned, (until, 0, None)]:
        while t < min(start, until):
            n += 1
            bad = rng.random() < 0.03
            score = round(rng.uniform(0.6, 0.95) if bad else rng.uniform(0.05, 0.35), 3)
            events.append(
                PartEvent(
                    t,
                    good=not bad,
                    defect=rng.choice(DEFECTS) if bad else None,
                    score=score,
                    id=f"{prefix}-p{n}",
                )
            )
            t += timedelta(seconds=rng.uniform(4.1, 4.9))
        if start >= until:
            break
        events.append(StateEvent(start, "stopped", reason, id=f"{prefix}-stop-{start:%H%M}"))
        end = start + timedelta(seconds=seconds)
        if end >= until:
            break  # still stopped at the end of the sample
        events.append(StateEvent(end, "running", id=f"{prefix}-run-{end:%H%M%S}"))
        t = end + timedelta(seconds=1)
    return events


def _verdict(rng: random.Random, defect: str) -> Any:
    """A rejected part's verdict: a grey stamped part with a defect, and its heatmap."""
    from agent.inspection import Verdict

    h, w = 48, 64
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.full((h, w, 3), 40, np.uint8)
    part = ((xx - 32) / 24.0) ** 2 + ((yy - 24) / 18.0) ** 2 <= 1
    img[part] = (160, 152, 150)
    img[((xx - 32) / 6.0) ** 2 + ((yy - 24) / 5.0) ** 2 <= 1] = 40  # the punched hole
    cx, cy = rng.randint(16, 46), rng.randint(12, 34)
    if defect == "scratch":
        for i in range(14):
            img[min(h - 1, cy + i // 3), min(w - 1, cx - 7 + i)] = (235, 230, 230)
    elif defect == "dent":
        img[((xx - cx) / 4.0) ** 2 + ((yy - cy) / 4.0) ** 2 <= 1] = (100, 95, 95)
    else:
        for i in range(12):
            img[min(h - 1, cy - 6 + i), min(w - 1, cx + (i % 3) - 1)] = (20, 20, 20)
    heat = np.exp(-(((xx - cx) / 6.0) ** 2 + ((yy - cy) / 6.0) ** 2)).astype(np.float32)
    return Verdict(good=False, score=None, defect=defect, heatmap=heat, crop=img)


def build_sample_store(path: Path, now: datetime = SAMPLE_NOW, pictures: int = 12) -> Path:
    """Write the sample store at `path` (a new file) and its pictures beside it."""
    import tomllib

    from agent.config import parse_config
    from agent.inspection.pictures import save_defect_picture
    from agent.oee import compute_oee
    from agent.store import Store

    rng = random.Random(3)  # noqa: S311 - sample data, not security
    config = parse_config(tomllib.loads(SAMPLE_CONFIG))
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)
    old = _shift_events(
        rng,
        yesterday,
        yesterday.replace(hour=14),
        [("07:05", 1500, "changeover"), ("10:12", 95, None), ("12:40", 420, "jam")],
        "y",
    )
    new = _shift_events(
        rng,
        today,
        now,
        [
            ("06:47", 240, "jam"),
            ("07:08", 75, None),
            ("07:20", 45, None),
            ("07:31", 900, "changeover"),
            ("08:02", 430, None),
            ("08:31", 3600, None),
        ],
        "t",
    )
    store = Store.open(path, clock=ManualClock(start=now))
    try:
        store.save_config(SAMPLE_CONFIG)
        store.append_many(
            (e, ())
            for e in old + [StateEvent(yesterday.replace(hour=14), "no_data", id="y-end")] + new
        )
        done = compute_oee(
            old, config, start=yesterday.replace(hour=6), end=yesterday.replace(hour=14)
        ).to_json()
        for shift in done["shifts"]:
            store.save_shift_result(shift)
        # the pictures as the agent writes them: crop beside crop + heatmap
        folder = path.parent / "defects"
        rejects = [e for e in new if isinstance(e, PartEvent) and not e.good][-pictures:]
        for part in rejects:
            assert part.id is not None  # noqa: S101 - generated with ids
            verdict = _verdict(rng, part.defect or "scratch")
            picture = save_defect_picture(verdict, folder, part.id)
            assert picture is not None  # noqa: S101 - the verdict has a crop
            store.set_part_image(part.id, f"defects/{picture.name}")
    finally:
        store.close()
    return path


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "var/sample/line.db")
    if target.exists():
        sys.exit(f"{target}: exists; give a new path")
    build_sample_store(target)
    print(f"wrote {target}; open it with: oee-tui --db {target}")
