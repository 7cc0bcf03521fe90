from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from agent.config import Config, parse_config
from agent.publish.validation import document_of, schema_for

LINE = {"id": "press-3", "site": "plant-a", "area": "stamping", "ideal_cycle_s": 0.8}


@pytest.fixture
def config() -> Config:
    return parse_config(
        {
            "line": LINE,
            "reason": [
                {"code": "changeover", "loss": "setup"},
                {"code": "jam", "loss": "breakdown"},
            ],
        }
    )


def check_schema(kind: str, payload: bytes) -> Any:
    """Validate a payload against its published schema; returns the document."""
    document = document_of(kind, payload)
    jsonschema.validate(
        document, schema_for(kind), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return document


@pytest.fixture
def validate() -> Callable[[str, bytes], Any]:
    return check_schema
