"""Shift reports as CSV and Markdown (pure: text in, text out)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from tui.model import LOSS_KEYS, LOSS_LABELS, Week, duration, pareto, percent

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


WEEK_COLUMNS = ("week", "shifts", "planned_s", "run_s", "total", "good")


def weeks_csv(weeks: Sequence[Week]) -> str:
    """One row per week: summed times and counts, A, P, Q, OEE, then its losses."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    ratios = ("availability", "performance", "quality", "oee")
    writer.writerow([*WEEK_COLUMNS, *ratios, *(f"loss_{k}" for k in LOSS_KEYS)])
    for w in weeks:
        t = w.times
        values = [w.week, w.shifts, round(t.planned_s, 1), round(t.run_s, 1), t.total, t.good]
        values += [None if getattr(t, r) is None else round(getattr(t, r), 4) for r in ratios]
        writer.writerow(values + [round(w.losses[k], 1) for k in LOSS_KEYS])
    return out.getvalue()


def weeks_markdown(line: str, weeks: Sequence[Week]) -> str:
    """A table of the weeks with their top three losses."""
    lines = [
        f"# Weekly trend: {line}",
        "",
        "| week | shifts | A % | P % | Q % | OEE % | good | total | top losses |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for w in weeks:
        t = w.times
        top = ", ".join(f"{LOSS_LABELS[k]} {duration(v)}" for k, v in w.top_losses()) or "-"
        lines.append(
            f"| {w.week} | {w.shifts} | {percent(t.availability)} | {percent(t.performance)} "
            f"| {percent(t.quality)} | {percent(t.oee)} | {t.good} | {t.total} | {top} |"
        )
    return "\n".join(lines) + "\n"
