"""README.md and the docs index say what the code does (the README is the front door)."""

import argparse
import re
from pathlib import Path

import pytest

from agent.__main__ import HANDLERS, build_parser
from tui.__main__ import build_parser as build_tui_parser

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
INDEX = ROOT / "docs" / "README.md"


def test_the_two_commands_come_first() -> None:
    head = README.read_text().splitlines()[:8]
    assert any(line.startswith("make demo") for line in head)
    assert any(line.startswith("make test") for line in head)


@pytest.mark.parametrize("doc", [README, INDEX], ids=["readme", "docs-index"])
def test_every_relative_link_resolves(doc: Path) -> None:
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text())
    local = [link for link in links if "://" not in link]
    assert local
    missing = [link for link in local if not (doc.parent / link).exists()]
    assert not missing, f"{doc.name} links to missing files: {missing}"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if a.dest == "command")
    return dict(action.choices)  # type: ignore[arg-type]


def _rows() -> list[str]:
    return [
        line.split("|")[1].strip().strip("`")
        for line in README.read_text().splitlines()
        if line.startswith("| `oee-")
    ]


def test_the_commands_table_matches_the_command_line() -> None:
    subs = _subparsers(build_parser())
    rows = _rows()
    agent_rows = {row.split()[1]: row for row in rows if row.startswith("oee-agent ")}
    assert set(agent_rows) == set(HANDLERS) == set(subs)
    for command, row in agent_rows.items():
        known = {s for a in subs[command]._actions for s in a.option_strings}
        for option in re.findall(r"--[a-z][a-z-]*", row):
            assert option in known, f"README: `oee-agent {command}` has no {option}"
    tui_rows = [row for row in rows if row.startswith("oee-tui")]
    assert tui_rows
    known = {s for a in build_tui_parser()._actions for s in a.option_strings}
    for option in re.findall(r"--[a-z][a-z-]*", tui_rows[0]):
        assert option in known, f"README: oee-tui has no {option}"


def test_every_doc_the_readme_lists_is_in_the_index() -> None:
    readme_docs = set(re.findall(r"\(docs/([\w-]+\.md)\)", README.read_text()))
    index_docs = set(re.findall(r"\(([\w-]+\.md)\)", INDEX.read_text()))
    assert readme_docs - {"README.md"} <= index_docs
