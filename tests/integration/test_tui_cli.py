"""`oee-tui` on the command line: clear one-line errors, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give --db DB or --mqtt [HOST[:PORT]]"),
        (("--db", "/nonexistent/line.db"), "no such store"),
        (("--mqtt", "localhost:notaport"), "the port must be a number"),
        (("--mqtt", "127.0.0.1:1"), "cannot reach the MQTT broker at 127.0.0.1:1"),
        (("--db", "x.db", "--target", "250"), "--target: targets must be between 0 and 100"),
        (("--db", "x.db", "--alert-after", "0"), "--alert-after must be more than 0"),
    ],
)
def test_bad_input_is_one_sentence(args, message, capsys):
    from tui.__main__ import main

    assert main(list(args)) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("oee-tui: ") and message in err, err


def test_the_installed_command_exits_non_zero_without_a_traceback():
    result = run("--db", "/nonexistent/line.db")
    assert result.returncode == 1
    assert (
        result.stderr
        == "oee-tui: /nonexistent/line.db: no such store (give the DB an agent or a replay wrote)\n"
    )


def test_a_file_that_is_not_a_store(tmp_path, capsys):
    from tui.__main__ import main

    path = tmp_path / "notes.db"
    path.write_text("hello, not SQLite")
    assert main(["--db", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err


def test_help():
    result = run("--help")
    assert result.returncode == 0
    for flag in ("--db", "--mqtt", "--target", "--alert-after", "--export-dir", "--video"):
        assert flag in result.stdout


def _run_in_terminal(argv: list[str], rows: int, cols: int, keys: list[bytes]) -> tuple[int, bytes]:
    """Run a command in a real pseudo-terminal of rows×cols, type `keys`, return (code, output)."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import termios
    import time

    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal is its stdin/stdout
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.environ["TERM"] = "xterm-256color"
        os.execv(argv[0], argv)
    out = bytearray()

    def read_until(marker: bytes | None, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and (marker is None or marker not in out):
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    out.extend(os.read(fd, 65536))
                except OSError:
                    return

    def read_reply(seconds: float) -> None:
        """Until the app answered the last key (its output grew, then 0.2 s of quiet)."""
        before = len(out)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and len(out) == before:
            read_until(None, 0.05)
        while time.monotonic() < deadline:
            size = len(out)
            read_until(None, 0.2)
            if len(out) == size:
                return

    try:
        read_until(b"NO DATA since", 30)
        for key in keys:
            os.write(fd, key)
            # answered before the next key: Escape and a key in one read are Alt+key
            read_reply(20)
        os.write(fd, b"q")
        read_until(None, 3)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(status), bytes(out)


@pytest.mark.parametrize("size", [(24, 80), (0, 0)], ids=["80x24", "no-size"])
def test_runs_in_a_real_terminal_through_every_screen_and_quits(tmp_path, size):
    from tui.sample import build_sample_store

    db = build_sample_store(tmp_path / "line.db")
    tui = str(Path(sys.executable).with_name("oee-tui"))
    keys = [b"2", b"3", b"4", b"5", b"6", b"7", b"?", b"\x1b", b"1"]
    code, out = _run_in_terminal([tui, "--db", str(db)], *size, keys)
    assert code == 0
    # the sample store's data ended months ago: its last shift, and when the data ends
    assert b"NO DATA since" in out and b"Traceback" not in out and b"Error" not in out
