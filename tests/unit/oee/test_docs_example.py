"""docs/oee.md shows the real output of the tool on the committed worked example."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from agent.__main__ import main
from agent.events import read_event_log

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = ROOT / "tests" / "golden"
LOG = GOLDEN / "press-3-example.jsonl"
CONFIG = GOLDEN / "press-3-example.toml"
DOC = ROOT / "docs" / "oee.md"


def test_the_committed_log_is_what_the_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location("make_example", GOLDEN / "make_example.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert [e.to_json() for e in module.events()] == [e.to_json() for e in read_event_log(LOG)]


def test_docs_show_the_table_the_command_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["oee", "--events", str(LOG), "--config", str(CONFIG)]) == 0
    printed = capsys.readouterr().out
    block = re.search(r"```console\n\$ oee-agent oee [^\n]*\n(.*?)```", DOC.read_text(), re.S)
    assert block, "docs/oee.md lost its worked example"
    assert block.group(1) == printed


def test_docs_show_the_json_the_command_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["oee", "--events", str(LOG), "--config", str(CONFIG), "--json"]) == 0
    shift_a = json.loads(capsys.readouterr().out)["shifts"][0]
    block = re.search(r"```json\n(.*?)```", DOC.read_text(), re.S)
    assert block
    assert json.loads(block.group(1)) == shift_a
