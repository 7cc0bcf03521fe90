"""write_atomic: the old file or the new one, whole, and nothing left behind."""

from pathlib import Path

import pytest

from agent.files import write_atomic


def test_writes_text_and_bytes_and_replaces_whole(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    write_atomic(target, "first\n")
    assert target.read_text(encoding="utf-8") == "first\n"
    write_atomic(target, "é".encode() * 3)
    assert target.read_bytes() == "ééé".encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "line.toml"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o644)
    folder = tmp_path / "gone" / "line.toml"
    with pytest.raises(OSError):
        write_atomic(folder, "new")
    # a rename onto a folder fails after the temporary file was written: it is removed
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "x").write_text("keep", encoding="utf-8")
    with pytest.raises(OSError):
        write_atomic(tmp_path / "dir", "new")
    assert (tmp_path / "dir" / "x").read_text(encoding="utf-8") == "keep"
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "line.toml"]
