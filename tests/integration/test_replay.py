"""`oee-agent replay` over whole rendered recordings, checked against their ground truth."""

import json
from pathlib import Path

import pytest

from agent.__main__ import main
from agent.sim.line import GroundTruth, Phase, Scenario, render_line
from agent.store import open_readonly
from tests.conftest import write_line_config

START = "2026-03-02T06:00:00+00:00"

#: Three looks: designs, colours, belt, light, direction, and what makes each hard.
LOOKS = {
    "steel_washers_dark_belt": Scenario(
        (
            Phase(7),
            Phase(4, moving=False),
            Phase(5),
            Phase(1.0, moving=False),
            Phase(4),
            Phase(9, feeding=False),
            Phase(5),
        ),
        seed=1,
        size_px=(45, 90),
        noise_sigma=3,
    ),
    "mixed_touching_flicker_shake_rtl": Scenario(
        (Phase(8), Phase(4, moving=False), Phase(6), Phase(9, feeding=False), Phase(5)),
        seed=2,
        direction="right_to_left",
        designs=("washer", "bracket", "angle", "hex"),
        colours=("steel", "brass"),
        size_px=(62, 78),
        touching_rate=0.3,
        flicker=0.05,
        drift=-0.2,
        shake_px=1.5,
        noise_sigma=3,
        defect_rate=0.2,
    ),
    "dark_parts_light_belt_btt": Scenario(
        (Phase(8), Phase(4, moving=False), Phase(6), Phase(9, feeding=False), Phase(5)),
        seed=3,
        direction="bottom_to_top",
        designs=("bracket", "angle"),
        colours=("black", "blue"),
        belt_colour=(170, 172, 168),
        floor_colour=(90, 90, 90),
        touching_rate=0.2,
        flicker=0.05,
        drift=0.15,
        noise_sigma=3,
    ),
}


def write_config(truth: GroundTruth, folder: Path) -> Path:
    return write_line_config(
        folder / "line.toml",
        truth,
        line_id="sim-line",
        line={"ideal_cycle_s": 0.3},
        camera={"source": truth.path.name},
        downtime={"stop_after_s": 2.0},
        inspection={"model_dir": "no-model-here"},
    )


@pytest.fixture(scope="module", params=sorted(LOOKS))
def replayed(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    truth = render_line(LOOKS[request.param], folder / "line.mp4")
    config = write_config(truth, folder)
    report = folder / "report.json"
    db = folder / "line.db"
    code = main(
        [
            "replay",
            str(truth.path),
            "--config",
            str(config),
            "--db",
            str(db),
            "--report",
            str(report),
            "--start",
            START,
        ]
    )
    assert code == 0
    return truth, json.loads(report.read_text()), db


def test_every_part_is_counted_once_when_it_crosses(replayed) -> None:
    truth, report, _ = replayed
    expected = [p.t_count for p in truth.counted]
    got = [p["t"] for p in report["parts"]]
    assert len(got) == len(expected)
    assert got == pytest.approx(expected, abs=0.25)
    assert report["frames"] == truth.frames and report["fps"] == 30.0


def test_every_stop_is_found_with_its_start_end_and_reason(replayed) -> None:
    truth, report, _ = replayed
    expected = truth.stops(stop_after_s=2.0)
    assert len(expected) >= 2
    assert [(s["state"], s["reason"]) for s in report["stops"]] == [
        ("stopped", s.reason) for s in expected
    ]
    for found, real in zip(report["stops"], expected, strict=True):
        assert found["start"] == pytest.approx(real.start, abs=1.0)
        assert found["end"] == pytest.approx(real.end, abs=1.0)


def test_events_are_in_the_store_and_oee_is_reported(replayed) -> None:
    truth, report, db = replayed
    reader = open_readonly(db)
    try:
        assert len(reader.parts()) == len(truth.counted)
        assert len(reader.stops()) == len(report["stops"])
    finally:
        reader.close()
    oee = report["oee"]
    assert oee["total"] == len(truth.counted) and oee["good"] == len(truth.counted)
    duration = truth.frames / 30.0
    assert oee["planned_s"] == pytest.approx(duration, abs=0.2)
    stopped = sum(s["end"] - s["start"] for s in report["stops"])
    # stops under micro_stop_max_s are small stops: run time, lost to performance
    assert oee["small_stop_s"] == pytest.approx(stopped, abs=0.5)
    assert oee["downtime_s"] == 0 and oee["run_s"] == pytest.approx(duration, abs=0.2)
