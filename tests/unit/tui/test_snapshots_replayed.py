"""Snapshots of the line screens at 80×24 and 120×40 from a store the real agent wrote.

A short clip is rendered by `agent.sim` (parts, a halt, a starved belt), replayed by
`oee-agent replay` into a store once per module, and shown with the app's clock stopped
at the clip's end, so the pictures depend only on the footage and the agent. The fleet
needs MQTT and stays on the sample store (`test_snapshots.py`).

A change to the vision or downtime stages that changes what the agent finds in the
clip changes these pictures: check the new ones, then
`pytest --snapshot-update tests/unit/tui/test_snapshots_replayed.py`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from agent.__main__ import main as agent_main
from agent.sim.line import Phase, Scenario, render_line
from tui.app import OeeApp
from tui.sample import sample_clock
from tui.sources.store import StoreSource

SIZES = [(80, 24), (120, 40)]
SCREENS = ["dashboard", "stops", "defects", "shifts"]
START = "2026-03-02T06:00:00+00:00"
#: 20 s: parts, a 4 s halt, parts, a 6 s starved belt, parts.
CLIP = Scenario(
    (Phase(4), Phase(4, moving=False), Phase(3), Phase(6, feeding=False), Phase(3)),
    seed=7,
    width=320,
    height=240,
    size_px=(34.0, 40.0),
    speed_px_s=160.0,
)


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The clip rendered and replayed into a store, with the replay's own report."""
    folder = tmp_path_factory.mktemp("replayed")
    truth = render_line(CLIP, folder / "line.mp4")
    config = folder / "line.toml"
    config.write_text(
        '[line]\nid = "sim-line"\nsite = "lab"\narea = "belt"\nideal_cycle_s = 0.8\n\n'
        f'[camera]\nsource = "line.mp4"\nfps = {CLIP.fps}\n\n'
        f'[vision]\nroi = {list(CLIP.roi)}\ndirection = "{CLIP.direction}"\n\n'
        "[downtime]\nstop_after_s = 2.0\nmicro_stop_max_s = 1\n\n"
        '[inspection]\nmodel_dir = "no-model-here"\n\n'
        '[[reason]]\ncode = "jam"\nloss = "breakdown"\n',
        encoding="utf-8",
    )
    db, report = folder / "line.db", folder / "report.json"
    argv = ["replay", str(truth.path), "--config", str(config), "--db", str(db)]
    assert agent_main([*argv, "--report", str(report), "--start", START]) == 0
    end = datetime.fromisoformat(START) + timedelta(seconds=CLIP.duration_s)
    return {"db": db, "config": config, "end": end, "report": json.loads(report.read_text())}


def test_the_clip_has_parts_a_stop_and_a_starvation(replayed: dict[str, Any]) -> None:
    report = replayed["report"]
    assert report["oee"]["total"] >= 8
    assert [(s["state"], s["reason"]) for s in report["stops"]] == [
        ("stopped", None),
        ("stopped", "starved"),
    ]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("mode", SCREENS)
def test_screen(snap_compare, settle_then, replayed, mode: str, size: tuple[int, int]) -> None:
    clock = sample_clock(replayed["end"])
    # replay does not keep the configuration in the store (the daemon does): give it
    line = StoreSource(replayed["db"], clock, config_path=replayed["config"])
    app = OeeApp(line=line, clock=clock, graphics="halfcell")
    assert snap_compare(app, terminal_size=size, run_before=settle_then(mode))


def test_dashboard_months_later(snap_compare, settle_then, replayed) -> None:
    """The same store opened nine months on: its shift, and when its data ends."""
    from datetime import timedelta

    clock = sample_clock(replayed["end"] + timedelta(days=270))
    app = OeeApp(line=StoreSource(replayed["db"], clock), clock=clock, graphics="halfcell")
    assert snap_compare(app, terminal_size=(120, 40), run_before=settle_then("dashboard"))
