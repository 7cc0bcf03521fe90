"""The demo's taught-model mark: a change to counting or inspection code teaches again."""

from pathlib import Path

import pytest

import agent.counting
import agent.inspection
from agent.demo_footage import Footage
from agent.demo_teach import teach_fingerprint


def footage(path: Path) -> Footage:
    return Footage(path, "rendered-abc", 10, 1, 0, [], [])


@pytest.mark.parametrize("package", [agent.counting, agent.inspection])
def test_a_changed_source_file_changes_the_fingerprint(
    package: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "package"
    copy.mkdir()
    for source in Path(package.__file__).parent.glob("*.py"):  # type: ignore[attr-defined]
        (copy / source.name).write_bytes(source.read_bytes())
    monkeypatch.setattr(package, "__file__", str(copy / "__init__.py"))
    before = teach_fingerprint(footage(tmp_path / "good.mp4"))
    assert teach_fingerprint(footage(tmp_path / "good.mp4")) == before
    with (copy / "__init__.py").open("a") as source:
        source.write("\n# a change\n")
    assert teach_fingerprint(footage(tmp_path / "good.mp4")) != before
