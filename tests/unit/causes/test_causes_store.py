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
from agent.causes.watch import StopEnd, StopScene
from agent.clock import ManualClock
from agent.config import Config, parse_config
from agent.events import StateEvent
from agent.publish.counters import PublisherCounters
from agent.publish.reasons import ReasonRouter
from agent.publish.validation import document_of, schema_for
from agent.recorder import Recorder
from agent.resume import last_state_event, resumed_open_stop
from agent.store import Store, schema
from agent.store.causes import (
    reset_examples,
    save_stop_cause,
    save_stop_end,
    stop_causes,
    stored_examples,
)

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


def _feed(store: Store, after: int = 0) -> list[tuple[str, dict]]:
    rows = store.outbox.peek(100, after=after)
    return [
        (r.topic.rsplit("/", 1)[1], _validated(r.topic.rsplit("/", 1)[1], r.payload)) for r in rows
    ]


def test_a_stop_announced_again_after_a_reason_repeats_its_suggestion(line: Line) -> None:
    ended = line.stop("queued")
    line.t += timedelta(seconds=60)
    line.recorder.emit(StateEvent(line.t, "stopped", None, "open", 0.0), _scene("spaced", 9))
    assert line.recorder.flush()
    seen = max(r.seq for r in line.store.outbox.peek(100))
    line.store.assign_reason(ended, "outfeed_full")
    line.store.assign_reason("open", "breaks")
    router = ReasonRouter(
        line.config, line.store, ManualClock(T0), PublisherCounters(), lambda m: None, lambda: None
    )
    router.announce()
    again = _feed(line.store, after=seen)
    assert [(kind, d["id"], d["reason"]) for kind, d in again] == [
        ("stop", ended, "outfeed_full"),
        ("stop", "open", "breaks"),
        ("state", "open", "breaks"),
    ]
    suggested = [(d["suggested_reason"], d["confidence"]) for _, d in again]
    stored = stop_causes(line.store, [ended, "open"])
    assert suggested == [
        (stored[ended].suggested_reason, stored[ended].confidence),
        *[(stored["open"].suggested_reason, stored["open"].confidence)] * 2,
    ]
    assert suggested[0][0] == "blocked" and suggested[1][0] == "machine"


def test_a_stop_closed_after_a_restart_repeats_its_suggestion(line: Line) -> None:
    line.stop("spaced")
    line.t += timedelta(seconds=60)
    line.recorder.emit(StateEvent(line.t, "stopped", None, "open", 0.0), _scene("queued", 5))
    assert line.recorder.flush()
    line.store.close()
    line.store = store = Store.open(line.config.store_path)  # the agent starts again
    seen = max(r.seq for r in store.outbox.peek(100))
    open_stop = resumed_open_stop(store, last_state_event(store))
    assert open_stop is not None and open_stop.id == "open"
    recorder = Recorder(store, line.config, open_stop=open_stop)
    recorder.emit(StateEvent(line.t + timedelta(minutes=5), "no_data", None, "nd", 0.0))
    assert recorder.flush()
    [closing] = [d for kind, d in _feed(store, after=seen) if d["id"] == "open"]
    assert closing["end"] is not None  # the stop's end, then `no_data` begins
    assert closing["suggested_reason"] == "blocked" and 0.7 <= closing["confidence"] <= 1


def test_a_stops_end_scene_is_kept_with_it(line: Line) -> None:
    line.t += timedelta(seconds=60)
    line.recorder.emit(StateEvent(line.t, "stopped", None, "s1", 0.0), _scene("queued", 1))
    end = _scene("spaced", 2).scene
    line.t += timedelta(seconds=30)
    line.recorder.emit(StateEvent(line.t, "running", None, "r1", 0.0), StopEnd("s1", end))
    line.recorder.emit(StateEvent(line.t, "stopped", None, "s2", 0.0))  # not described
    line.recorder.emit(StateEvent(line.t, "running", None, "r2", 0.0), StopEnd("s2", end))
    assert line.recorder.flush()
    stored = stop_causes(line.store, ["s1", "s2"])
    assert list(stored) == ["s1"] and stored["s1"].end_scene == end
    assert stored["s1"].scene.layout == "queued" and end.layout == "spaced"
    line.store.assign_reason("s1", "outfeed_full")
    [example] = stored_examples(line.store)
    assert example.end_scene == end


def test_report_and_causes_list_show_the_end(line: Line, capsys) -> None:
    line.recorder.emit(StateEvent(T0, "running", None, "r000", 0.0))
    line.t += timedelta(seconds=60)
    line.recorder.emit(StateEvent(line.t, "stopped", None, "s1", 0.0), _scene("queued", 1))
    line.t += timedelta(seconds=30)
    end = StopEnd("s1", _scene("spaced", 2).scene)
    line.recorder.emit(StateEvent(line.t, "running", None, "r1", 0.0), end)
    assert line.recorder.flush()
    line.store.assign_reason("s1", "outfeed_full")
    line.store.save_config('[line]\nid = "press-3"\nideal_cycle_s = 1.0\n')
    db = str(line.config.store_path)
    assert main(["report", "--db", db, "--format", "json", "--stops"]) == 0
    [row] = json.loads(capsys.readouterr().out)["stops"]
    said = end.scene.summary()
    assert said.startswith("halted, ") and "parts spaced" in said
    assert row["end_scene"] == said and row["scene"] != said
    assert main(["report", "--db", db]) == 0
    assert f"| {said} |" in capsys.readouterr().out
    assert main(["causes", "list", "--db", db]) == 0
    assert f"; at its end {said}" in capsys.readouterr().out
    assert main(["causes", "list", "--db", db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["end_scene"]["layout"] == "spaced"


def test_a_store_made_before_m007_opens_with_its_causes(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "line.db"
    # m008 too: the old store is written through today's Store
    before = [(n, f) for n, f in schema.MIGRATIONS if n < "m007" or n == "m008_part_inspected"]
    assert len(before) < len(schema.MIGRATIONS)
    with monkeypatch.context() as patch:
        patch.setattr(schema, "MIGRATIONS", before)
        with Store.open(path) as store:
            store.append(StateEvent(T0, "stopped", None, "s1", 0.0), [])
            seen = _scene("queued", 1)
            save_stop_cause(store, "s1", seen.cause, seen.cause, seen.scene)
            assert "end_scene" not in _columns(store)
    with Store.open(path) as store:
        assert "m007_stop_end_scene" in store.migrations() and "end_scene" in _columns(store)
        [(stop_id, kept)] = stop_causes(store, ["s1"]).items()
        assert kept.scene == seen.scene and kept.end_scene is None
        save_stop_end(store, "s1", _scene("spaced", 2).scene)
        assert stop_causes(store, ["s1"])["s1"].end_scene == _scene("spaced", 2).scene


def _columns(store: Store) -> set[str]:
    return {row[1] for row in store.db.execute("PRAGMA table_info(stop_causes)")}
