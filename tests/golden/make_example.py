"""Writes press-3-example.jsonl, the event log of the worked example in docs/oee.md.

    .venv/bin/python tests/golden/make_example.py

Three hours of press-3 on 2 March 2026, local time (Europe/Berlin): a part every
2.2 s while running (ideal cycle 2.0 s), every 40th part bad; a 90 s stop (small), a
stop from 12:29 to 13:02 around the 12:30-13:00 break, a changeover from 13:40 to
14:25 across the shift change, and five minutes without a camera picture.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from agent.events import Event, PartEvent, StateEvent, write_event_log

BERLIN = ZoneInfo("Europe/Berlin")
DAY = datetime(2026, 3, 2, tzinfo=BERLIN)


def at(hhmmss: str) -> datetime:
    h, m, s = map(int, hhmmss.split(":"))
    return DAY + timedelta(hours=h, minutes=m, seconds=s)


# (start, state, reason); the line is observed until the last event, 15:00:00
TIMELINE = [
    ("12:00:00", "running", None),
    ("12:20:00", "stopped", None),  # 90 s: a small stop
    ("12:21:30", "running", None),
    ("12:29:00", "stopped", None),  # stands still through the break: 3 min downtime
    ("13:02:00", "running", None),
    ("13:40:00", "stopped", "changeover"),  # across the 14:00 shift change
    ("14:25:00", "running", None),
    ("14:40:00", "no_data", None),  # camera gave nothing
    ("14:45:00", "running", None),
    ("15:00:00", "stopped", None),
]


def events() -> list[Event]:
    out: list[Event] = []
    count = 0
    for i, (start, state, reason) in enumerate(TIMELINE):
        t0 = at(start)
        out.append(StateEvent(t0.astimezone(ZoneInfo("UTC")), state, reason))  # type: ignore[arg-type]
        if state != "running":
            continue
        t1 = at(TIMELINE[i + 1][0])
        t = t0 + timedelta(seconds=1.1)
        while t < t1:
            count += 1
            bad = count % 40 == 0
            out.append(
                PartEvent(t.astimezone(ZoneInfo("UTC")), not bad, "scratch" if bad else None)
            )
            t += timedelta(seconds=2.2)
    return out


if __name__ == "__main__":
    write_event_log(events(), Path(__file__).with_name("press-3-example.jsonl"))
