"""`oee-agent report`: the store's own figures, and the same figures from its export."""

import csv
import io
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.__main__ import main
from agent.events import PartEvent, StateEvent, new_id
from agent.store import Store

CONFIG = """
[line]
id = "press-3"
ideal_cycle_s = 0.8
timezone = "Europe/Berlin"

[downtime]
micro_stop_max_s = 120

[[shift]]
name = "A"
start = "06:00"
end = "14:00"
breaks = [["09:00", "09:15"]]

[[shift]]
name = "B"
start = "14:00"
end = "22:00"

[[reason]]
code = "changeover"
loss = "setup"

[[reason]]
code = "lunch"
loss = "planned"
"""

# 2026-03-02 06:00 in Berlin (UTC+1)
SHIFT_A = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)


def fill(store: Store, seed: int = 7) -> dict[str, str]:
    """Ten hours across shifts A and B: running, parts, a small stop, long stops."""
    rng = random.Random(seed)
    t = 0.0
    stops: dict[str, str] = {}
    state_at = {
        2 * 3600.0: ("stopped", None),  # 10 min unassigned stop
        2 * 3600.0 + 600: ("running", None),
        4 * 3600.0: ("stopped", "jam"),  # 30 s: a small stop
        4 * 3600.0 + 30: ("running", None),
        7.5 * 3600: ("stopped", None),  # spans the shift change A -> B, reason assigned later
        8.5 * 3600: ("running", None),
        9 * 3600.0: ("no_data", None),
        9 * 3600.0 + 300: ("running", None),
    }
    # appended in batches (one transaction, one fsync each): what a busy line does
    batch: list = [StateEvent(SHIFT_A, "running", id=new_id(), mono=0.0)]
    running = True
    pending = sorted(state_at)
    while t < 10 * 3600:
        t += rng.uniform(1.7, 2.6)
        while pending and pending[0] <= t:
            at = pending.pop(0)
            state, reason = state_at[at]
            event = StateEvent(SHIFT_A + timedelta(seconds=at), state, reason, new_id(), at)
            batch.append(event)
            running = state == "running"
            stops[f"{at:.0f}"] = event.id or ""
        if running:
            good = rng.random() > 0.03
            defect = None if good else "scratch"
            ts = SHIFT_A + timedelta(seconds=t)
            batch.append(PartEvent(ts, good, defect, rng.random(), new_id(), t))
        if len(batch) >= 2000:
            store.append_many((event, ()) for event in batch)
            batch = []
    store.append_many((event, ()) for event in batch)
    store.assign_reason(stops[f"{7.5 * 3600:.0f}"], "changeover")
    return stops


@pytest.fixture(scope="module")
def line_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "line.db"
    with Store.open(path) as store:
        store.save_config(CONFIG)
        fill(store)
    return path


def report_json(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert main(["report", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_export_then_oee_gives_the_same_figures_as_report(line_db, tmp_path, capsys) -> None:
    events_file = tmp_path / "events.jsonl"
    config_file = tmp_path / "line.toml"
    config_file.write_text(CONFIG)
    from_store = report_json(capsys, "--db", str(line_db), "--events-out", str(events_file))
    assert main(["oee", "--events", str(events_file), "--config", str(config_file), "--json"]) == 0
    from_log = json.loads(capsys.readouterr().out)
    assert from_log == from_store
    # and the figures are real ones: two shifts, the stop across the change split,
    # the assigned reason booked as setup
    assert [s["shift"] for s in from_store["shifts"]] == ["A", "B"]
    total = from_store["total"]
    assert total["total"] > 12_000 and 0 < total["oee"] < 1
    assert total["losses"]["setup"] == pytest.approx(3600, abs=0.2)
    assert total["losses"]["unassigned"] == pytest.approx(600, abs=0.2)
    assert total["no_data_s"] == pytest.approx(300, abs=0.2)
    a, b = from_store["shifts"]
    assert a["losses"]["setup"] == pytest.approx(1800, abs=0.2)
    assert b["losses"]["setup"] == pytest.approx(1800, abs=0.2)


def test_period_report_starts_inside_a_stop(line_db, capsys) -> None:
    # from inside the changeover (13:30-14:30 local) at 14:00 to 14:45: 30 min stopped,
    # then 15 running
    rep = report_json(
        capsys, "--db", str(line_db), "--from", "2026-03-02T14:00:00", "--to", "2026-03-02T14:45"
    )
    total = rep["total"]
    assert total["planned_s"] == pytest.approx(2700, abs=0.2)
    assert total["losses"]["setup"] == pytest.approx(1800, abs=0.2)
    assert total["run_s"] == pytest.approx(900, abs=0.2)
    assert [s["shift"] for s in rep["shifts"]] == ["B"]


def test_a_period_export_then_oee_with_the_period_agrees_with_report(
    line_db, tmp_path, capsys
) -> None:
    """The export of a period that starts inside a stop carries the state in effect,
    so `oee --from --to` on it gives what `report --from --to` gave."""
    events_file = tmp_path / "period.jsonl"
    config_file = tmp_path / "line.toml"
    config_file.write_text(CONFIG)
    period = ["--from", "2026-03-02T14:00:00", "--to", "2026-03-02T14:45"]
    from_store = report_json(
        capsys, "--db", str(line_db), *period, "--events-out", str(events_file)
    )
    args = ["oee", "--events", str(events_file), "--config", str(config_file), "--json"]
    assert main([*args, *period]) == 0
    assert json.loads(capsys.readouterr().out) == from_store
    first = json.loads(events_file.read_text().splitlines()[0])
    assert (first["type"], first["state"], first["reason"]) == ("state", "stopped", "changeover")


def test_periods_add_up_to_the_whole(line_db, capsys) -> None:
    whole = report_json(capsys, "--db", str(line_db))["total"]
    cut = "2026-03-02T10:17:33+01:00"
    first = report_json(capsys, "--db", str(line_db), "--to", cut)["total"]
    second = report_json(capsys, "--db", str(line_db), "--from", cut)["total"]
    assert first["total"] + second["total"] == whole["total"]
    assert first["good"] + second["good"] == whole["good"]
    for key in ("planned_s", "run_s", "downtime_s"):
        assert first[key] + second[key] == pytest.approx(whole[key], abs=0.2)


def test_csv_one_row_per_shift_and_total(line_db, capsys) -> None:
    rep = report_json(capsys, "--db", str(line_db))
    assert main(["report", "--db", str(line_db), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["shift"] for r in rows] == ["A", "B", "total"]
    assert int(rows[0]["total"]) == rep["shifts"][0]["total"]
    assert float(rows[2]["oee"]) == rep["total"]["oee"]
    assert float(rows[2]["teep"]) == rep["total"]["teep"]
    assert float(rows[1]["loss_setup_s"]) == rep["shifts"][1]["losses"]["setup"]


def test_markdown_is_a_table(line_db, capsys) -> None:
    assert main(["report", "--db", str(line_db)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# OEE report: line press-3")
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| Shift"))
    assert lines[header + 1].startswith("| --- | --- | ---: |")
    assert lines[header + 2].startswith("| A | 2026-03-02 |")
    assert lines[header + 4].startswith("| **Total** |")
    assert "| setup | 1:00:00 |" in out


def test_errors_are_one_line(tmp_path, line_db, capsys) -> None:
    assert main(["report", "--db", str(tmp_path / "missing.db")]) == 1
    assert "no such store file" in capsys.readouterr().err
    bare = tmp_path / "bare.db"
    Store.open(bare).close()
    assert main(["report", "--db", str(bare)]) == 1
    err = capsys.readouterr().err
    assert "holds no line configuration" in err and len(err.strip().splitlines()) == 1
    assert main(["report", "--db", str(line_db), "--from", "yesterday"]) == 1
    assert "--from 'yesterday' is not an ISO 8601" in capsys.readouterr().err
    assert main(["report", "--db", str(line_db), "--from", "2026-03-03", "--to", "2026-03-02"]) == 1
    assert "is not after" in capsys.readouterr().err
    text = tmp_path / "text.db"
    text.write_text("hello")
    assert main(["report", "--db", str(text)]) == 1
    assert "not a usable SQLite database" in capsys.readouterr().err
    assert text.read_text() == "hello"


def test_stored_config_that_no_longer_validates(tmp_path, capsys) -> None:
    path = tmp_path / "old.db"
    with Store.open(path) as store:
        store.save_config('[line]\nid = "x"\nideal_cycle_s = 1\nnot_a_key = 3\n')
    assert main(["report", "--db", str(path)]) == 1
    assert "stored configuration is invalid (line.not_a_key: unknown key)" in (
        capsys.readouterr().err
    )


def test_empty_store_reports_nothing(tmp_path, capsys) -> None:
    path = tmp_path / "empty.db"
    with Store.open(path) as store:
        store.save_config(CONFIG)
    rep = report_json(capsys, "--db", str(path))
    assert rep["shifts"] == [] and rep["total"]["total"] == 0
    assert main(["report", "--db", str(path)]) == 0
    assert "No shift is covered" in capsys.readouterr().out


def test_report_measures_to_the_end_of_observation(tmp_path, capsys) -> None:
    """A replay notes its last frame: the report covers the time after the last event."""
    path = tmp_path / "line.db"
    start = SHIFT_A + timedelta(hours=1)
    with Store.open(path) as store:
        store.save_config(CONFIG)
        store.append(StateEvent(start, "running", id=new_id()))
        for i in range(10):
            store.append(PartEvent(start + timedelta(seconds=1 + 4 * i), id=new_id()))
    before = report_json(capsys, "--db", str(path))["shifts"][0]
    assert before["planned_s"] == 37.0  # up to the last part
    with Store.open(path) as store:
        store.note_observed(start + timedelta(seconds=60))
        store.note_observed(start + timedelta(seconds=50))  # never goes back
        assert store.observed_until() == start + timedelta(seconds=60)
    after = report_json(capsys, "--db", str(path))["shifts"][0]
    assert after["planned_s"] == 60.0 and after["total"] == 10
    assert after["performance"] == round(10 * 0.8 / 60.0, 4)
