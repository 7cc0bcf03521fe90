"""The docs and the code say the same thing (after sqlite-utils' tests/test_docs.py)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from agent import config_doc
from agent.__main__ import HANDLERS, build_parser

ROOT = Path(__file__).resolve().parents[2]


def test_config_doc_is_generated_from_the_models() -> None:
    written = (ROOT / "docs" / "config.md").read_text()
    assert written == config_doc.render(), "run: python -m agent.config_doc > docs/config.md"


def test_every_documented_key_exists_and_every_key_is_documented() -> None:
    text = (ROOT / "docs" / "config.md").read_text()
    documented = set()
    section = None
    for line in text.splitlines():
        heading = re.match(r"## `\[\[?(\w+)\]\]?`", line)
        if heading:
            section = heading.group(1)
        row = re.match(r"\| `(\w+)` \|", line)
        if row and section:
            documented.add(f"{section}.{row.group(1)}")
    assert documented == set(config_doc.keys())


@pytest.mark.parametrize("command", sorted(HANDLERS))
def test_every_agent_command_has_help(command: str) -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    help_text = sub.choices[command].format_help()  # type: ignore[index]
    assert command in help_text and len(help_text) > 80


@pytest.mark.parametrize("script", ["oee-agent", "oee-tui"])
def test_console_scripts_answer_help(script: str) -> None:
    exe = Path(sys.executable).parent / script
    done = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout
