from pathlib import Path

import pytest

from agent.__main__ import main
from agent.config import PipelineConfig, RunConfig, load_config, parse_config
from agent.errors import ConfigError

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware_config"

MINIMAL = {"line": {"id": "press-3", "ideal_cycle_s": 0.8}}


def problems(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return info.value.problems


@pytest.mark.parametrize("path", sorted(FIRMWARE.rglob("*.toml")), ids=lambda p: p.name)
def test_every_example_validates(path: Path) -> None:
    assert load_config(path).line.id


def test_minimal_config_has_defaults() -> None:
    config = parse_config(MINIMAL)
    assert config.camera is None and config.vision is None
    assert config.downtime.stop_after_s == 2.0
    assert config.shift == [] and config.reason == []
    assert config.store_path.name == "line.db"


def test_roi_with_three_numbers_names_the_key() -> None:
    data = {**MINIMAL, "camera": {"source": "0"}, "vision": {"roi": [0, 1, 2]}}
    assert "vision.roi: expected 4 numbers (x, y, w, h), got 3" in problems(data)


def test_unknown_keys_are_errors() -> None:
    data = {"line": {**MINIMAL["line"], "colour": "red"}, "extra": {}}
    found = problems(data)
    assert "line.colour: unknown key" in found
    assert "extra: unknown key" in found


def test_every_problem_is_listed() -> None:
    data = {
        "line": {"id": "a/b", "ideal_cycle_s": 0, "timezone": "Mars/Base"},
        "vision": {"roi": [0, 0, 100, 100], "direction": "up"},
    }
    found = problems(data)
    keys = [p.split(":")[0] for p in found]
    assert {"line.id", "line.ideal_cycle_s", "line.timezone", "vision.direction"} <= set(keys)


def test_break_outside_its_shift() -> None:
    shift = {"name": "A", "start": "06:00", "end": "14:00", "breaks": [["13:00", "15:00"]]}
    (problem,) = problems({**MINIMAL, "shift": [shift]})
    assert problem.startswith("shift.0") and "not inside" in problem


def test_overnight_break_inside_overnight_shift() -> None:
    shift = {"name": "N", "start": "22:00", "end": "06:00", "breaks": [["23:45", "00:15"]]}
    assert parse_config({**MINIMAL, "shift": [shift]}).shift[0].span_minutes() == (1320, 1800)


def test_overlapping_shifts_across_midnight() -> None:
    shifts = [
        {"name": "N", "start": "22:00", "end": "06:00"},
        {"name": "A", "start": "05:00", "end": "13:00"},
    ]
    (problem,) = problems({**MINIMAL, "shift": shifts})
    assert "overlap" in problem


def test_bad_time_of_day() -> None:
    found = problems({**MINIMAL, "shift": [{"name": "A", "start": "6am", "end": "14:00"}]})
    assert found == ["shift.0.start: expected a time of day as HH:MM (00:00-23:59), got '6am'"]


def test_relative_paths_resolve_against_the_file(tmp_path: Path) -> None:
    (tmp_path / "line.toml").write_text(
        '[line]\nid = "x"\nideal_cycle_s = 1\n[store]\npath = "data/x.db"\n'
    )
    config = load_config(tmp_path / "line.toml")
    assert config.store_path == tmp_path / "data" / "x.db"


def test_mqtt_password_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OEE_MQTT_PASSWORD", "s3cret")
    assert parse_config(MINIMAL).mqtt.password == "s3cret"
    assert problems({**MINIMAL, "mqtt": {"password": "x"}}) == ["mqtt.password: unknown key"]


def test_check_config_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[line]\nid = "x"\nideal_cycle_s = 1\n')
    assert main(["check-config", str(good)]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text('[line]\nid = "x"\nideal_cycle_s = 1\n[vision]\nroi = [1, 2, 3]\n')
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "vision.roi: expected 4 numbers" in err
    assert "Traceback" not in err
    assert main(["check-config", str(tmp_path / "missing.toml")]) == 2
    broken = tmp_path / "broken.toml"
    broken.write_text("[line\n")
    assert main(["check-config", str(broken)]) == 2
    assert "not valid TOML" in capsys.readouterr().err


def test_a_command_gets_its_sections_as_required() -> None:
    counting = parse_config({**MINIMAL, "vision": {"roi": [0, 0, 64, 64]}})
    narrowed = PipelineConfig.of(counting)
    assert narrowed.vision.roi == (0, 0, 64, 64)  # typed as present: no assert needed
    assert narrowed.store_path == counting.store_path and narrowed.line == counting.line
    assert PipelineConfig.of(narrowed) is narrowed
    with pytest.raises(ConfigError) as info:
        RunConfig.of(counting)
    assert info.value.problems == ["[camera]: this command needs the section"]


@pytest.mark.parametrize(
    ("command", "sections", "missing"),
    [
        (["run"], "", ["camera", "vision"]),
        (["run"], '[camera]\nsource = "0"\n', ["vision"]),
        (["teach", "clip.mp4"], "[vision]\nroi = [0, 0, 8, 8]\n", ["camera"]),
        (["teach"], "", ["camera", "vision"]),
    ],
)
def test_a_command_names_the_sections_it_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command, sections, missing
) -> None:
    config = tmp_path / "line.toml"
    config.write_text(f'[line]\nid = "x"\nideal_cycle_s = 1.0\n{sections}', encoding="utf-8")
    assert main([*command, "--config", str(config)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"{config}: [{s}]: this command needs the section" for s in missing]
    assert not (tmp_path / "var").exists()  # refused before a store was made
