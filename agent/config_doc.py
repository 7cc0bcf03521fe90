"""Generate docs/config.md from the configuration models, so the doc cannot drift.

python -m agent.config_doc > docs/config.md
"""

from __future__ import annotations

import sys
import typing
from enum import Enum
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from agent.config import Config

HEADER = """# Line configuration reference

Generated from the models in `agent/config.py` by `python -m agent.config_doc`; a test
fails when this file and the models disagree. One TOML file per line; validate it with
`oee-agent check-config LINE.toml` (exit 0 valid, 2 with every bad key's path and why).

- Only `[line]` is always required; `run`, `replay` and `teach` also need `[camera]` and
  `[vision]`. Every other section has defaults.
- Unknown keys are errors. Relative paths resolve against the config file's folder.
- Secrets come from the environment, never from the file: `OEE_MQTT_USERNAME`,
  `OEE_MQTT_PASSWORD`.
- `[[shift]]`: an end earlier than the start crosses midnight; breaks must lie inside
  their shift; shifts must not overlap. No shifts: each local day is one shift.
- `[[reason]]`: codes a supervisor assigns to stops; `loss` says what the stop costs.
  The agent's own reason `starved` (belt moving, no parts) needs no entry.
- `[store]`: events are committed in groups (`commit_interval_s`: what a crash or a
  power cut can lose at most). Raw parts, state events and defect pictures are kept
  `parts_days`, `events_days`, `pictures_days`, then pruned; hourly rollups and shift
  results stay for years and `report` answers from them. Past 90 % of `max_mb` the
  oldest raw hours go before their retention (never the last 24 h); from 80 %, and
  with less than `min_free_mb` free, a `storage:` alarm says so first (docs/store.md,
  "Retention").
"""


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        names = [_type_name(a) for a in args if a is not type(None)]
        suffix = " (optional)" if type(None) in args else ""
        return " or ".join(names) + suffix
    if origin is typing.Literal:
        return " \\| ".join(f'`"{a}"`' for a in args)
    if origin in (list, tuple):
        inner = ", ".join(_type_name(a) for a in args if a is not Ellipsis)
        return f"array of {inner}" if origin is list else f"[{inner}]"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " \\| ".join(f'`"{m.value}"`' for m in annotation)
    if isinstance(annotation, type):
        name = annotation.__name__
        plain = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
        return plain.get(name, "path" if name.endswith("Path") else name)
    return str(annotation)


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        return "(see below)" if field.default_factory is not list else "[]"
    value = field.default
    if value is None or value is PydanticUndefined:
        return "none"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _limits(field: FieldInfo) -> str:
    parts = []
    for item in field.metadata:
        for name, symbol in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            bound = getattr(item, name, None)
            if bound is not None:
                parts.append(f"{symbol} {bound}")
    return ", ".join(parts)


def _section_model(field: FieldInfo) -> type[BaseModel]:
    annotation = field.annotation
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    raise TypeError(f"not a section: {annotation}")


def keys() -> list[str]:
    """Every documented key as `section.key`."""
    out = []
    for section, field in Config.model_fields.items():
        if field.exclude:
            continue
        for name in _section_model(field).model_fields:
            out.append(f"{section}.{name}")
    return out


def render() -> str:
    """The whole reference as Markdown."""
    lines = [HEADER]
    for section, field in Config.model_fields.items():
        if field.exclude:
            continue
        model = _section_model(field)
        is_list = typing.get_origin(field.annotation) is list
        title = f"[[{section}]]" if is_list else f"[{section}]"
        required = "required" if field.is_required() else "optional"
        lines.append(f"## `{title}` ({required})\n")
        lines.append((model.__doc__ or "").strip() + "\n")
        lines.append("| key | type | default | limits | meaning |")
        lines.append("| --- | --- | --- | --- | --- |")
        for name, sub in model.model_fields.items():
            meaning = (sub.description or "").replace("|", "\\|")
            row = [
                f"`{name}`",
                _type_name(sub.annotation),
                _default(sub),
                _limits(sub),
                meaning,
            ]
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
