"""oee-tui on a store built by `oee-agent replay` from rendered footage (the real agent).

`tests/unit/tui/test_snapshots_replayed.py` keeps pictures of such a store; this test
checks by assertion that what the agent really writes reads right: counts and stops on
screen agree with the replay's own report, and a reason assigned on screen moves the
losses.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta

from textual.widgets import DataTable

from agent.__main__ import main as agent_main
from agent.sim.line import Phase, Scenario, render_line
from tests.conftest import settle, write_line_config
from tui.app import OeeApp
from tui.sample import sample_clock
from tui.sources.store import StoreSource

START = "2026-03-02T06:00:00+00:00"


def test_replayed_store_on_screen(tmp_path):
    scenario = Scenario((Phase(6), Phase(5, moving=False), Phase(6)), seed=5, width=480, height=360)
    truth = render_line(scenario, tmp_path / "line.mp4")
    config = write_line_config(
        tmp_path / "line.toml",
        truth,
        line_id="sim-line",
        line={"site": "lab", "area": "belt", "ideal_cycle_s": 0.5},
        downtime={"micro_stop_max_s": 1},
        inspection={"model_dir": "no-model-here"},
        reason=[{"code": "jam", "loss": "breakdown"}],
    )
    db, report_file = tmp_path / "line.db", tmp_path / "report.json"
    argv = ["replay", str(truth.path), "--config", str(config), "--db", str(db)]
    assert agent_main([*argv, "--report", str(report_file), "--start", START]) == 0
    report = json.loads(report_file.read_text())
    stops = [s for s in report["stops"] if s["state"] == "stopped"]
    assert stops, "the footage has a halt"
    end = datetime.fromisoformat(START) + timedelta(seconds=scenario.duration_s)
    clock = sample_clock(end)
    # replay does not keep the configuration in the store (the daemon does): give it
    app = OeeApp(line=StoreSource(db, clock, config_path=config), clock=clock)

    async def run() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            snap = app.snapshot
            assert snap is not None and snap.line == "sim-line"
            assert snap.shift["total"] == report["oee"]["total"] == len(report["parts"])
            counts = str(app.screen.query_one("#count-line").render())
            assert f"total {report['oee']['total']}" in counts
            await pilot.press("2")
            await pilot.pause()
            table = app.screen.query_one("#stops", DataTable)
            assert table.row_count == len(report["stops"])
            unassigned = snap.shift["losses"]["unassigned"]
            await pilot.press("a", "enter")  # the longest stop: jam
            await settle(pilot)
            losses = app.snapshot.shift["losses"]
            assert losses["breakdown"] > 0 and losses["unassigned"] < unassigned

    asyncio.run(run())
