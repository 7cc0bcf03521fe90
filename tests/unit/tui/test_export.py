"""Shift report exports."""

from __future__ import annotations

import csv
import io

from tui.export import shifts_csv, shifts_markdown

SHIFT = {
    "shift": "A",
    "date": "2026-03-03",
    "planned_s": 100.0,
    "run_s": 80.0,
    "downtime_s": 20.0,
    "small_stop_s": 0.0,
    "total": 18,
    "good": 17,
    "availability": 0.8,
    "performance": 0.9,
    "quality": 0.9444,
    "oee": 0.68,
    "losses": {
        "breakdown": 20.0,
        "setup": 0,
        "unassigned": 0,
        "small_stop": 0,
        "reduced_speed": 8.0,
        "defects": 4.0,
    },
}


def test_csv_has_every_number_and_loss():
    rows = list(csv.DictReader(io.StringIO(shifts_csv([SHIFT]))))
    assert rows[0]["oee"] == "0.68" and rows[0]["loss_breakdown"] == "20.0"
    assert rows[0]["loss_defects"] == "4.0" and len(rows) == 1


def test_markdown_table_and_pareto():
    text = shifts_markdown("press-3", [SHIFT], 1.0)
    assert "| 2026-03-03 | A | 80.0 | 90.0 | 94.4 | 68.0 | 17 | 18 |" in text
    losses = text.split("## Losses")[1]
    assert losses.index("Breakdowns") < losses.index("Reduced speed") < losses.index("Defects")
    assert "| Breakdowns | 20s | 62.5 |" in losses
