"""The one runtime: whatever was opened is closed, the last opened first, on any exit."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.capture import EndOfStream
from agent.config import RunConfig, parse_config
from agent.events import StateEvent
from agent.runtime import Runtime
from agent.sim.line import GroundTruth
from tests.conftest import line_config_dict


def run_config(footage: GroundTruth, tmp_path: Path) -> RunConfig:
    data = line_config_dict(footage, store={"path": str(tmp_path / "line.db")})
    return RunConfig.of(parse_config(data, base_dir=tmp_path))


def test_an_error_closes_every_stage_in_reverse(footage: GroundTruth, tmp_path: Path) -> None:
    closed: list[str] = []
    with (
        pytest.raises(RuntimeError, match="the pipeline broke"),
        Runtime(run_config(footage, tmp_path)) as runtime,
    ):
        store = runtime.open_store()
        runtime.keep("feed", lambda: closed.append("feed"))
        recording = runtime.open_recording(footage.path, datetime(2026, 1, 1, tzinfo=UTC))
        runtime.keep("camera", lambda: closed.append("camera"))
        recording.read()
        raise RuntimeError("the pipeline broke")
    assert closed == ["camera", "feed"]  # the last opened first
    with pytest.raises(EndOfStream):
        recording.read()  # the recording was released
    with pytest.raises(sqlite3.ProgrammingError):
        store.events()  # and the store closed, after the feed


def test_the_stages_run_a_line(footage: GroundTruth, tmp_path: Path) -> None:
    config = run_config(footage, tmp_path)
    with Runtime(config) as runtime:
        store = runtime.open_store()
        reader = runtime.open_reader()
        recorder = runtime.recorder(store, None)
        pipeline = runtime.pipeline(runtime.inspector(), recorder, keep_counted=0)
        recording = runtime.open_recording(footage.path, datetime(2026, 1, 1, tzinfo=UTC))
        for _ in range(30):
            pipeline.process(recording.read())
        assert recorder.flush()
        assert reader is not None
        events = reader.events()
        assert [e.state for e in events if isinstance(e, StateEvent)] == ["running"]
        assert len(events) == recorder.counters.written  # read through the reader twin
