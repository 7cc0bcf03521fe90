"""`oee-agent oee --events FILE --config FILE [--json]` on real files."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.__main__ import main
from agent.events import StateEvent, write_event_log

CONFIG = """\
[line]
id = "press-3"
ideal_cycle_s = 1.0
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
"""

SHIFT_KEYS = {
    "shift", "date", "planned_s", "run_s", "downtime_s", "small_stop_s", "no_data_s",
    "total", "good", "availability", "performance", "quality", "oee", "losses",
}  # fmt: skip
LOSS_KEYS = {"breakdown", "setup", "unassigned", "small_stop", "reduced_speed", "defects"}


@pytest.fixture
def files(tmp_path: Path, build: Any) -> tuple[Path, Path]:
    config = tmp_path / "line.toml"
    config.write_text(CONFIG)
    t = datetime(2026, 3, 2, 12, tzinfo=UTC)  # 13:00 in Berlin
    h = timedelta(hours=1)
    events = build.merge(
        [
            StateEvent(t, "running"),
            StateEvent(t + h, "stopped", "changeover"),
            StateEvent(t + 1.5 * h, "running"),
            StateEvent(t + 3 * h, "stopped"),
        ],
        build.parts([(t, t + h), (t + 1.5 * h, t + 3 * h)], 5000, 4900),
    )
    log = tmp_path / "events.jsonl"
    write_event_log(events, log)
    return log, config


def test_json_output_has_the_contract_keys(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    log, config = files
    assert main(["oee", "--events", str(log), "--config", str(config), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"shifts", "total"}
    assert [(s["shift"], s["date"]) for s in out["shifts"]] == [
        ("A", "2026-03-02"),
        ("B", "2026-03-02"),
    ]
    for obj in [*out["shifts"], out["total"]]:
        assert SHIFT_KEYS <= set(obj)
        assert set(obj["losses"]) == LOSS_KEYS
    assert "teep" in out["total"]
    a, b = out["shifts"]
    assert a["planned_s"] == 3600 and a["total"] == 3600 * 5000 // 9000
    assert b["losses"]["setup"] == 1800 and b["run_s"] == 5400
    assert out["total"]["total"] == 5000 and out["total"]["good"] == 4900
    assert a["start"] == "2026-03-02T06:00:00+01:00"  # local time of the line


def test_human_table_lists_each_shift_and_the_total(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    log, config = files
    assert main(["oee", "--events", str(log), "--config", str(config)]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["shift", "date", "planned"]
    rows = [line.split() for line in lines if line.startswith(("A ", "B ", "total "))]
    assert [r[0] for r in rows] == ["A", "B", "total"]
    assert rows[0][2] == "1:00:00"  # planned time of shift A, 13:00-14:00 local
    assert rows[-1][7] == "5000" and rows[-1][8] == "4900"
    assert "TEEP" in text and "setup 0:30:00" in text


def test_bad_event_log_names_the_line_and_exits_non_zero(
    tmp_path: Path, files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, config = files
    log = tmp_path / "bad.jsonl"
    log.write_text(
        '{"ts": "2026-03-02T06:00:00+00:00", "type": "state", "state": "running"}\n'
        '{"ts": "2026-03-02T06:00:01+00:00", "type": "part", "good": true}\n'
        '{"ts": "2026-03-02T06:00:02+00:00", "type": "part"}\n'
    )
    assert main(["oee", "--events", str(log), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "line 3" in err and "good" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            ['{"ts": "2026-03-02T06:00:00+00:00", "type": "state", "state": "running"}', "{nope"],
            "line 2: not JSON",
        ),
        (['{"ts": "2026-03-02T06:00:00+00:00", "type": "tick"}'], "line 1: unknown event type"),
        (
            [
                '{"ts": "2026-03-02T06:00:05+00:00", "type": "part", "good": true}',
                '{"ts": "2026-03-02T06:00:04+00:00", "type": "part", "good": true}',
            ],
            "line 2: time goes backwards",
        ),
        (['{"ts": "2026-03-02T06:00:00", "type": "part", "good": true}'], "line 1: ts"),
        (
            ['{"ts": "2026-03-02T06:00:00+00:00", "type": "part", "good": true, "uncertain": 1}'],
            "line 1: uncertain must be true or false",
        ),
    ],
)
def test_every_kind_of_bad_line_is_reported(
    tmp_path: Path,
    files: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    lines: list[str],
    expected: str,
) -> None:
    _, config = files
    log = tmp_path / "bad.jsonl"
    log.write_text("\n".join(lines) + "\n")
    assert main(["oee", "--events", str(log), "--config", str(config), "--json"]) != 0
    captured = capsys.readouterr()
    assert expected in captured.err
    assert captured.out == ""


def test_console_script_prints_one_line_and_no_traceback(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    _, config = files
    log = tmp_path / "bad.jsonl"
    log.write_text('{"ts": "2026-03-02T06:00:00+00:00", "type": "state", "state": "idle"}\n')
    exe = Path(sys.executable).parent / "oee-agent"
    done = subprocess.run(
        [str(exe), "oee", "--events", str(log), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0
    assert "line 1: unknown state 'idle'" in done.stderr


def test_missing_files_are_one_line_errors(
    tmp_path: Path, files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    log, config = files
    assert main(["oee", "--events", str(tmp_path / "none.jsonl"), "--config", str(config)]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["oee", "--events", str(log), "--config", str(tmp_path / "none.toml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_from_to_cut_a_stop_and_are_local_times_of_the_line(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    log, config = files
    # 14:15-15:00 Berlin: the last 15 min of the 30-min changeover (14:00-14:30), then
    # 30 min of running; the stop keeps its whole length, so it stays setup downtime
    args = ["oee", "--events", str(log), "--config", str(config), "--json"]
    assert main([*args, "--from", "2026-03-02T14:15", "--to", "2026-03-02T15:00"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [s["shift"] for s in out["shifts"]] == ["B"]
    total = out["total"]
    assert total["planned_s"] == 2700 and total["run_s"] == 1800
    assert total["losses"]["setup"] == 900 and total["downtime_s"] == 900
    assert total["all_time_s"] == 2700
    assert total["start"] == "2026-03-02T14:15:00+01:00"
    # 5000 parts spread evenly over 1 h + 1.5 h of running: 30 min of it holds 1000
    assert total["total"] == pytest.approx(1000, abs=1)


def test_events_dash_reads_stdin(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log, config = files
    assert main(["oee", "--events", str(log), "--config", str(config), "--json"]) == 0
    from_file = capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.StringIO(log.read_text()))
    assert main(["oee", "--events", "-", "--config", str(config), "--json"]) == 0
    assert capsys.readouterr().out == from_file
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"ts": 1}\n'))
    assert main(["oee", "--events", "-", "--config", str(config)]) == 1
    assert "stdin line 1:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        (["--from", "monday"], "--from 'monday' is not an ISO 8601 time or date"),
        (["--to", "2026-02-30"], "--to '2026-02-30' is not an ISO 8601"),
        (["--from", "2026-03-02T15:00", "--to", "2026-03-02T14:00"], "is not after --from"),
    ],
)
def test_a_bad_period_is_a_one_line_error(
    files: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    period: list[str],
    expected: str,
) -> None:
    log, config = files
    assert main(["oee", "--events", str(log), "--config", str(config), *period]) == 1
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1


def test_a_folder_as_event_log_is_a_one_line_error(
    tmp_path: Path, files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, config = files
    assert main(["oee", "--events", str(tmp_path), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "is a folder, not an event log" in err and len(err.strip().splitlines()) == 1


def test_an_event_log_with_a_byte_order_mark_reads(
    tmp_path: Path, files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    log, config = files
    assert main(["oee", "--events", str(log), "--config", str(config), "--json"]) == 0
    plain = capsys.readouterr().out
    marked = tmp_path / "bom.jsonl"
    marked.write_bytes(b"\xef\xbb\xbf" + log.read_bytes())
    assert main(["oee", "--events", str(marked), "--config", str(config), "--json"]) == 0
    assert capsys.readouterr().out == plain
