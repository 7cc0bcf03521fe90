"""`oee-tui` on the command line: clear one-line errors, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give --db DB or --mqtt HOST[:PORT]"),
        (("--db", "/nonexistent/line.db"), "no such store"),
        (("--mqtt", "localhost:notaport"), "the port must be a number"),
        (("--mqtt", "127.0.0.1:1"), "cannot reach the MQTT broker at 127.0.0.1:1"),
        (("--db", "x.db", "--target", "250"), "--target: targets must be between 0 and 100"),
        (("--db", "x.db", "--alert-after", "0"), "--alert-after must be more than 0"),
    ],
)
def test_bad_input_is_one_sentence(args, message):
    result = run(*args)
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("oee-tui: ") and message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_file_that_is_not_a_store(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("hello, not SQLite")
    result = run("--db", str(path))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and str(path) in result.stderr


def test_help():
    result = run("--help")
    assert result.returncode == 0
    for flag in ("--db", "--mqtt", "--target", "--alert-after", "--export-dir", "--video"):
        assert flag in result.stdout
