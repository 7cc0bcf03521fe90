"""firmware_config/: the unit, install.sh and the system settings are well formed.

(The example lines are validated by tests/unit/test_config.py.)
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.config import load_config

FIRMWARE = Path(__file__).resolve().parents[3] / "firmware_config"
UNIT = FIRMWARE / "systemd" / "oee-agent@.service"


def ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser


def test_the_unit_is_a_watched_hardened_notify_service() -> None:
    service = ini(UNIT)["Service"]
    assert service["Type"] == "notify" and service["NotifyAccess"] == "main"
    assert int(service["WatchdogSec"]) >= 10
    assert service["Restart"] == "always"
    assert service["User"] == "oee" and service["KillSignal"] == "SIGTERM"
    assert service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == "/var/lib/oee"
    assert service["NoNewPrivileges"] == "true"
    # system calls filtered, but the read-only adjtimex(2) of agent.health allowed
    assert service["SystemCallFilter"] == "@system-service adjtimex"
    assert service["SystemCallErrorNumber"] == "EPERM"
    assert "run --config /etc/oee/%i.toml" in service["ExecStart"]
    assert "check-config" in service["ExecStartPre"]
    assert ini(UNIT)["Unit"]["StartLimitIntervalSec"] == "0"


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: `make test` installs Debian's systemd"
    unit = tmp_path / "oee-agent@test.service"
    unit.write_text(UNIT.read_text().replace("/opt/oee/.venv/bin/oee-agent", "/bin/true"))
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "oee-agent@test" in line or "Unknown" in line
    ]
    assert problems == [], problems


def test_install_script_parses_and_is_idempotent_in_form() -> None:
    script = FIRMWARE / "install.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert "set -euo pipefail" in text
    assert "id -u oee" in text  # the user is created only once
    assert '[ -e "$ETC/$line.env" ] ||' in text  # secrets are never overwritten


@pytest.mark.parametrize("name", ["journald/oee.conf", "timesyncd/oee.conf"])
def test_system_settings_parse(name: str) -> None:
    parsed = ini(FIRMWARE / name)
    assert parsed.sections() in (["Journal"], ["Time"])


def test_deployed_examples_write_only_below_var_lib_oee() -> None:
    for name in ("press-3.toml", "bottling-1.toml", "pi/picamera-line.toml"):
        config = load_config(FIRMWARE / name)
        for path in (config.store_path, config.model_dir):
            assert str(path).startswith("/var/lib/oee/"), (name, path)
