"""Suggestions through the recorder and the store: payloads, examples, corrections, reset."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import jsonschema
import numpy as np
import pytest

from agent.__main__ import main
from agent.causes.rules import builtin_cause
from agent.causes.scene import UsualScene, describe
from agent.causes.watch import StopScene
from agent.config import Config, parse_config
from agent.events import StateEvent
from agent.publish.validation import document_of, schema_for
from agent.recorder import Recorder
from agent.store import Store
from agent.store.causes import reset_examples, stop_causes, stored_examples

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)
USUAL = UsualScene(part_length=16, part_width=16, part_area=200, gap=16)
CODES = [("outfeed_full", "breakdown"), ("drive_fault", "breakdown"), ("breaks", "planned")]


def _config(tmp_path: Path) -> Config:
    return parse_config(
        {
            "line": {"id": "press-3", "site": "plant-a", "area": "stamping", "ideal_cycle_s": 1},
            "store": {"path": str(tmp_path / "line.db")},
            "reason": [{"code": c, "loss": loss} for c, loss in CODES],
        }
    )


def _scene(kind: str, seed: int) -> StopScene:
    """A queue at the outfeed ("queued") or parts spaced as usual ("spaced")."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((50, 160), np.uint8)
    if kind == "queued":
        xs = [160 - 8 - 16 * k for k in range(int(rng.integers(4, 7)))]
    else:
        xs = [20 + 32 * k + int(rng.integers(-3, 4)) for k in range(4)]
    for x in xs:
        cv2.circle(mask, (x, 25 + int(rng.integers(-3, 4))), 8, 1, -1)
    scene = describe(mask, False, USUAL)
    picture = np.full((60, 200, 3), 90, np.uint8)
    return StopScene(scene, builtin_cause(scene), picture, None)


class Line:
    """A recorder over a real store; `stop()` starts and ends one described stop."""

    def __init__(self, tmp_path: Path) -> None:
        self.config = _config(tmp_path)
        self.store = Store.open(self.config.store_path)
        self.recorder = Recorder(self.store, self.config)
        self.t = T0
        self.n = 0

    def stop(self, kind: str) -> str:
        self.n += 1
        stop_id = f"s{self.n:03d}"
        self.t += timedelta(seconds=60)
        self.recorder.emit(StateEvent(self.t, "stopped", None, stop_id, 0.0), _scene(kind, self.n))
        self.t += timedelta(seconds=30)
        self.recorder.emit(StateEvent(self.t, "running", None, f"r{self.n:03d}", 0.0))
        assert self.recorder.flush()  # the recorder commits in groups: now
        return stop_id

    def suggestion(self, stop_id: str) -> str:
        return stop_causes(self.store, [stop_id])[stop_id].suggested_reason


@pytest.fixture
def line(tmp_path: Path):
    line = Line(tmp_path)
    yield line
    line.store.close()


def _validated(kind: str, payload: bytes) -> dict:
    doc = document_of(kind, payload)
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    jsonschema.validate(doc, schema_for(kind), format_checker=checker)
    return doc


def test_a_stop_carries_its_suggestion_on_the_feed_and_in_the_store(line: Line) -> None:
    stop_id = line.stop("queued")
    docs = [
        (row.topic.rsplit("/", 1)[1], _validated(row.topic.rsplit("/", 1)[1], row.payload))
        for row in line.store.outbox.peek(100)
    ]
    stop_docs = [d for kind, d in docs if kind == "stop"]
    state = [d for kind, d in docs if kind == "state" and d["state"] == "stopped"][0]
    assert len(stop_docs) == 2  # at its start and its end, both with the suggestion
    for doc in [*stop_docs, state]:
        assert doc["suggested_reason"] == "blocked" and 0.7 <= doc["confidence"] <= 1
        assert doc["reason"] is None  # the reason stays a person's choice
    running = [d for kind, d in docs if kind == "state" and d["state"] == "running"][0]
    assert "suggested_reason" not in running
    stored = stop_causes(line.store, [stop_id])[stop_id]
    assert stored.builtin == "blocked" and stored.scene.layout == "queued"
    assert stored.picture is not None and Path(stored.picture).is_file()
    assert Path(stored.picture).parent == line.config.store_path.parent / "stops"


def test_the_schemas_refuse_a_confidence_outside_0_to_1(line: Line) -> None:
    line.stop("queued")
    row = [r for r in line.store.outbox.peek(100) if r.topic.endswith("/stop")][0]
    doc = json.loads(row.payload)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**doc, "confidence": 1.5}, schema_for("stop"))


def test_examples_teach_the_lines_codes_and_a_correction_changes_later_ones(
    line: Line,
) -> None:
    assert line.suggestion(line.stop("spaced")) == "machine"  # no example yet
    for _ in range(5):
        line.store.assign_reason(line.stop("queued"), "outfeed_full")
        line.store.assign_reason(line.stop("spaced"), "drive_fault")
    assert len(stored_examples(line.store)) == 10
    assert line.suggestion(line.stop("queued")) == "outfeed_full"
    spaced = line.stop("spaced")
    assert line.suggestion(spaced) == "drive_fault"
    # supervisors correct the halts with parts spaced as usual: they were breaks
    for stop_id in [spaced, *(line.stop("spaced") for _ in range(6))]:
        line.store.assign_reason(stop_id, "breaks")
    assert line.suggestion(line.stop("spaced")) == "breaks"
    assert line.suggestion(line.stop("queued")) == "outfeed_full"


def test_reset_forgets_the_examples_not_the_reasons(line: Line) -> None:
    stops = [line.stop("queued") for _ in range(3)]
    for stop_id in stops:
        line.store.assign_reason(stop_id, "outfeed_full")
    assert line.suggestion(line.stop("queued")) == "outfeed_full"
    assert reset_examples(line.store) == 3
    assert stored_examples(line.store) == []
    assert line.suggestion(line.stop("queued")) == "blocked"  # the built-in cause again
    assert line.store.current_reasons(stops) == dict.fromkeys(stops, "outfeed_full")


def test_the_causes_command_lists_and_resets(line: Line, capsys) -> None:
    line.store.assign_reason(line.stop("queued"), "outfeed_full")
    line.store.assign_reason(line.stop("spaced"), "drive_fault")
    db = str(line.config.store_path)
    assert main(["causes", "list", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "outfeed_full" in out and "queued at the outfeed" in out
    assert out.strip().endswith("2 examples: drive_fault 1, outfeed_full 1")
    assert main(["causes", "list", "--db", db, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["reason"] for r in rows} == {"outfeed_full", "drive_fault"}
    assert main(["causes", "reset", "--db", db]) == 0
    assert "2 examples forgotten" in capsys.readouterr().out
    assert main(["causes", "list", "--db", db]) == 0
    assert "0 examples: none" in capsys.readouterr().out


def test_the_causes_command_names_a_missing_store(tmp_path: Path, capsys) -> None:
    assert main(["causes", "reset", "--db", str(tmp_path / "none.db")]) != 0
    assert "no such store file" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()


def test_report_lists_the_stops_with_their_suggestions(line: Line, capsys) -> None:
    line.store.save_config(
        '[line]\nid = "press-3"\nideal_cycle_s = 1.0\n\n'
        '[[reason]]\ncode = "outfeed_full"\nloss = "breakdown"\n'
    )
    line.recorder.emit(StateEvent(T0, "running", None, "r000", 0.0))
    stop_id = line.stop("queued")
    db = str(line.config.store_path)
    assert main(["report", "--db", db]) == 0
    markdown = capsys.readouterr().out
    assert "## Stops" in markdown
    assert "| blocked | 9" in markdown and "queued at the outfeed" in markdown
    assert main(["report", "--db", db, "--format", "json"]) == 0
    assert "stops" not in json.loads(capsys.readouterr().out)  # the OEE output as `oee`
    assert main(["report", "--db", db, "--format", "json", "--stops"]) == 0
    stops = json.loads(capsys.readouterr().out)["stops"]
    assert [(s["id"], s["suggested_reason"], s["reason"]) for s in stops] == [
        (stop_id, "blocked", None)
    ]
