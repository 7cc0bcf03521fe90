from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.clock import ManualClock
from agent.store import Store

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=T0)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "line" / "line.db"


@pytest.fixture
def store(db_path: Path, clock: ManualClock):
    opened = Store.open(db_path, clock=clock)
    yield opened
    opened.close()
