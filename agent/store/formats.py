"""`report` output formats, from the contract's OEE JSON object (pure functions)."""

from __future__ import annotations

import csv
import io
from typing import Any

from agent.oee.report import format_hms

LOSSES = ("breakdown", "setup", "unassigned", "small_stop", "reduced_speed", "defects")
CSV_COLUMNS = (
    "shift", "date", "start", "end", "planned_s", "run_s", "downtime_s", "small_stop_s",
    "no_data_s", "planned_stop_s", "total", "good", "availability", "performance",
    "quality", "oee", "teep", *(f"loss_{name}_s" for name in LOSSES),
)  # fmt: skip


def _csv_row(shift: dict[str, Any]) -> dict[str, Any]:
    row = {key: shift.get(key) for key in CSV_COLUMNS}
    for name in LOSSES:
        row[f"loss_{name}_s"] = shift.get("losses", {}).get(name)
    return {key: "" if value is None else value for key, value in row.items()}


def to_csv(report: dict[str, Any]) -> str:
    """One row per shift, then the total (shift `total`); ratios as fractions, seconds."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for shift in report["shifts"]:
        writer.writerow(_csv_row(shift))
    writer.writerow(_csv_row({**report["total"], "shift": "total"}))
    return out.getvalue()


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


_MD_COLUMNS = (
    "Shift", "Date", "Planned", "Run", "Downtime", "Small stops", "No data",
    "Total", "Good", "Availability", "Performance", "Quality", "OEE",
)  # fmt: skip


def _md_cells(shift: dict[str, Any], bold: bool = False) -> list[str]:
    cells = [
        str(shift.get("shift") or ""),
        str(shift.get("date") or ""),
        format_hms(shift.get("planned_s")),
        format_hms(shift.get("run_s")),
        format_hms(shift.get("downtime_s")),
        format_hms(shift.get("small_stop_s")),
        format_hms(shift.get("no_data_s")),
        str(shift.get("total", 0)),
        str(shift.get("good", 0)),
        _pct(shift.get("availability")),
        _pct(shift.get("performance")),
        _pct(shift.get("quality")),
        _pct(shift.get("oee")),
    ]
    return [f"**{c}**" if bold and c else c for c in cells]


def _md_table(header: list[str], rows: list[list[str]], numeric_from: int) -> list[str]:
    align = ["---" if i < numeric_from else "---:" for i in range(len(header))]
    return ["| " + " | ".join(r) + " |" for r in [header, align, *rows]]


def to_markdown(report: dict[str, Any], title: str = "OEE report") -> str:
    """A readable Markdown report: shifts and total, the six big losses, warnings."""
    total = {**report["total"], "shift": "Total"}
    lines = [f"# {title}", ""]
    if not report["shifts"]:
        lines += ["No shift is covered by the stored events in this period.", ""]
    rows = [_md_cells(s) for s in report["shifts"]] + [_md_cells(total, bold=True)]
    lines += _md_table(list(_MD_COLUMNS), rows, numeric_from=2)
    lines += ["", f"TEEP: {_pct(total.get('teep'))}", "", "## Losses (h:mm:ss)", ""]
    losses = total.get("losses", {})
    lines += _md_table(
        ["Loss", "Time"],
        [[name.replace("_", " "), format_hms(losses.get(name))] for name in LOSSES],
        numeric_from=1,
    )
    warnings = [w for s in [*report["shifts"], total] for w in s.get("warnings", [])]
    if warnings:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in dict.fromkeys(warnings)]
    return "\n".join(lines) + "\n"
