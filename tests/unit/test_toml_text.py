"""agent.toml_text writes what tomllib reads back unchanged."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from agent.toml_text import dumps, toml_value


@pytest.mark.parametrize(
    ("value", "text"),
    [(True, "true"), (3, "3"), (0.8, "0.8"), ('a"b', '"a\\"b"'), ([0, 1], "[0, 1]")],
)
def test_values(value: Any, text: str) -> None:
    assert toml_value(value) == text
    assert dumps({"s": {"k": value}}) == f"[s]\nk = {text}\n"


def test_a_line_file_round_trips_through_tomllib() -> None:
    data = {
        "line": {"id": "press-3", "ideal_cycle_s": 0.8, "site": 'plant "A"\\west'},
        "vision": {"roi": [0, 10, 320, 100], "direction": "left_to_right"},
        "reason": [{"code": "jam", "loss": "breakdown"}, {"code": "changeover", "loss": "setup"}],
        "mqtt": {"enabled": False},
    }
    assert tomllib.loads(dumps(data)) == data


def test_anything_else_is_refused() -> None:
    with pytest.raises(TypeError, match="cannot write dict to TOML"):
        toml_value({"nested": 1})
