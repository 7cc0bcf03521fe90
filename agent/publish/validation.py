"""The JSON Schemas of the feed's payloads, shipped with the package (`schemas/*.json`).

`schema_for(kind)` hands a schema to a validator (the tests use `jsonschema`; so can a
plant integrator). The schemas are data, so the runtime does not depend on a validator.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"

#: topic kind (the part of the topic after the line's root) -> schema file stem.
SCHEMA_OF_KIND = {
    "status": "status",
    "state": "state",
    "oee": "oee",
    "shift": "oee",
    "part": "part",
    "stop": "stop",
    "stats": "stats",
    "cmd/reason": "cmd_reason",
    "cmd/result": "cmd_result",
}


@cache
def schema_for(kind: str) -> dict[str, Any]:
    """The JSON Schema of a topic kind (`part`, `cmd/result`...).

    Raises:
        KeyError: no such topic kind.
    """
    schema: dict[str, Any] = json.loads(
        (SCHEMA_DIR / f"{SCHEMA_OF_KIND[kind]}.json").read_text(encoding="utf-8")
    )
    return schema


def document_of(kind: str, payload: bytes) -> Any:
    """The payload as the schema sees it: text for `status`, parsed JSON otherwise."""
    text = payload.decode("utf-8")
    return text if kind == "status" else json.loads(text)
