"""Line configurations written as TOML text.

tomllib reads TOML but nothing in the standard library writes it; the files we write
are plain: tables of scalars and lists, and arrays of tables such as `[[reason]]`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any


def toml_value(value: Any) -> str:
    """One TOML value: a bool, number, string or (nested) list of them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def table(name: str, values: Mapping[str, Any], *, array: bool = False) -> str:
    """`[name]` (or `[[name]]` for one entry of an array of tables) and its keys."""
    header = f"[[{name}]]" if array else f"[{name}]"
    return "\n".join([header, *(f"{k} = {toml_value(v)}" for k, v in values.items())]) + "\n"


def dumps(sections: Mapping[str, Mapping[str, Any] | Sequence[Mapping[str, Any]]]) -> str:
    """A document of tables: a mapping is `[section]`, a list of mappings `[[section]]`."""
    parts = []
    for name, body in sections.items():
        if isinstance(body, Mapping):
            parts.append(table(name, body))
        else:
            parts += [table(name, entry, array=True) for entry in body]
    return "\n".join(parts)
