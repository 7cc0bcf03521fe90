"""Shift reports as CSV and Markdown (pure: text in, text out)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from tui.model import LOSS_KEYS, LOSS_LABELS, duration, pareto, percent

COLUMNS = (
    "date",
    "shift",
    "planned_s",
    "run_s",
    "downtime_s",
    "small_stop_s",
    "total",
    "good",
    "availability",
    "performance",
    "quality",
    "oee",
)


def shifts_csv(shifts: Sequence[dict[str, Any]]) -> str:
    """One row per shift: the OEE object's numbers, then its losses (`loss_<name>`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*COLUMNS, *(f"loss_{k}" for k in LOSS_KEYS)])
    for shift in shifts:
        losses = shift.get("losses") or {}
        writer.writerow([shift.get(c, "") for c in COLUMNS] + [losses.get(k, 0) for k in LOSS_KEYS])
    return out.getvalue()


def shifts_markdown(line: str, shifts: Sequence[dict[str, Any]], ideal_cycle_s: float) -> str:
    """A table of the shifts and, per shift, the six big losses as a Pareto list."""
    lines = [
        f"# Shift report: {line}",
        "",
        "| date | shift | A % | P % | Q % | OEE % | good | total |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in shifts:
        lines.append(
            f"| {s.get('date', '')} | {s.get('shift', '')} | {percent(s.get('availability'))} "
            f"| {percent(s.get('performance'))} | {percent(s.get('quality'))} "
            f"| {percent(s.get('oee'))} | {s.get('good', 0)} | {s.get('total', 0)} |"
        )
    for s in shifts:
        lines += [
            "",
            f"## Losses, shift {s.get('shift', '')} {s.get('date', '')}",
            "",
            "| loss | time | cumulative % |",
            "| --- | ---: | ---: |",
        ]
        for key, seconds, cumulative in pareto(s):
            lines.append(f"| {LOSS_LABELS[key]} | {duration(seconds)} | {cumulative * 100:.1f} |")
    return "\n".join(lines) + "\n"
