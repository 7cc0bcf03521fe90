"""`oee-tui --db` in a real terminal (tmux) on a store replayed months ago.

A supervisor checking a recording sees its shift, with the figures `oee-agent report
--db` gives for that store, and `NO DATA since ...`, never `RUNNING` for a state
months old.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from agent.__main__ import main as agent_main
from agent.sim.line import Phase, Scenario, render_line
from tests.conftest import wait_until, write_line_config
from tui.model import percent

START = "2026-03-02T08:00:00+00:00"  # months before today: nobody writes this store now


def tmux(*args: str) -> str:
    done = subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    return done.stdout


def screen_until(session: str, wanted: str, timeout: float = 30.0) -> str:
    screen = [""]

    def shows() -> bool:
        screen[0] = tmux("capture-pane", "-p", "-t", session)
        return wanted in screen[0]

    assert wait_until(shows, timeout), f"{wanted!r} never appeared on the screen:\n{screen[0]}"
    return screen[0]


@pytest.fixture
def replayed(tmp_path: Path) -> tuple[Path, dict, dict]:
    scenario = Scenario((Phase(8), Phase(4, moving=False), Phase(8)), seed=8, width=480, height=360)
    truth = render_line(scenario, tmp_path / "line.mp4")
    config = write_line_config(
        tmp_path / "line.toml",
        truth,
        line_id="sim-line",
        line={"site": "lab", "area": "belt", "ideal_cycle_s": 0.5},
        inspection={"model_dir": "no-model-here"},
    )
    db, report_file = tmp_path / "line.db", tmp_path / "report.json"
    argv = ["replay", str(truth.path), "--config", str(config), "--db", str(db)]
    assert agent_main([*argv, "--report", str(report_file), "--start", START]) == 0
    stored = subprocess.run(
        [sys.executable, "-m", "agent", "report", "--db", str(db), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return db, json.loads(report_file.read_text()), json.loads(stored.stdout)


def test_a_replayed_store_in_a_terminal(replayed, tmp_path):
    assert shutil.which("tmux"), "make test installs tmux"
    db, replay_report, store_report = replayed
    [shift] = store_report["shifts"]
    assert shift["total"] == replay_report["oee"]["total"] > 0
    # the store keeps when the replay's last frame was: `report --db` measures what the
    # replay's own report measured
    for key in ("planned_s", "availability", "performance", "quality", "oee"):
        assert shift[key] == replay_report["oee"][key], key
    session = f"oee-{uuid.uuid4().hex[:8]}"
    command = f"{sys.executable} -m tui --db {db} --graphics halfcell"
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", command)
    try:
        dashboard = screen_until(session, "NO DATA since")
        assert "RUNNING" not in dashboard and "STALE" not in dashboard
        assert "2026-03-02 08:00:" in dashboard  # when the data ends: the clip's last event
        tmux("send-keys", "-t", session, "4")
        screen_until(session, "Six big losses")  # the shift report is up
        rows = [
            line.replace("│", " ").split()
            for line in tmux("capture-pane", "-p", "-t", session).splitlines()
        ]
        cells = next(r for r in rows if r[:2] == ["2026-03-02", shift["shift"]])
        row = " ".join(cells)
        figures = [percent(shift[k]) for k in ("availability", "performance", "quality", "oee")]
        assert cells[2:6] == figures, row
        assert cells[6:8] == [str(shift["good"]), str(shift["total"])], row
        tmux("send-keys", "-t", session, "q")
        has_session = ["tmux", "has-session", "-t", session]
        assert wait_until(lambda: subprocess.run(has_session).returncode != 0, 10), (
            "q did not leave the TUI"
        )
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
