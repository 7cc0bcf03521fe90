"""The daemon's queues: inspection off the frame path, store writes on their own thread.

The inspector here is a small rule of our own behind a gate the test opens, so the
test decides when the model is "behind"; the store is a real SQLite file, held busy by
taking its connection's lock, as a slow disk holds a write.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from agent.config import parse_config
from agent.counting import CountedPart
from agent.events import Event, PartEvent, StateEvent, event_from_json, new_id
from agent.flow.stops import Stamp
from agent.health_stats import TimedInspector
from agent.inspect_queue import InspectQueue
from agent.inspection import PartCrop, Verdict
from agent.pipeline import ListSink, PartExtra, judged
from agent.publish.topics import part_payload
from agent.publish.validation import schema_for
from agent.recorder import Recorder
from agent.store import Store

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)
CONFIG = parse_config(
    {"line": {"id": "queues-1", "ideal_cycle_s": 1.0}, "store": {"commit_interval_s": 0}}
)


#: The grey of a part `GatedInspector` cannot judge.
UNJUDGEABLE = 66


class GatedInspector:
    """Rejects dark parts (mean grey under 100) once `gate` is open; raises on `broken`."""

    enabled = True
    patterned_belt = False

    def __init__(self, broken: int | None = None) -> None:
        self.gate = threading.Event()
        self.broken = broken
        self.seen: list[int] = []

    def inspect(self, views: Sequence[PartCrop]) -> Verdict:
        self.gate.wait()
        grey = int(views[0].image[0, 0, 0])
        self.seen.append(grey)
        if grey == self.broken:
            raise RuntimeError("the model fell over")
        if grey == UNJUDGEABLE:
            return Verdict(good=True, inspected=False)  # as before a belt's pattern is known
        if grey < 100:
            return Verdict(good=False, score=1.0 - grey / 255, defect="dark")
        return Verdict(good=True, score=grey / 2550)


def counted(i: int, grey: int) -> tuple[PartEvent, PartExtra]:
    """Part `i` as the pipeline emits it in the daemon: unjudged, with one view of `grey`."""
    at = Stamp(float(i), T0 + timedelta(seconds=i))
    view = PartCrop(np.full((8, 8, 3), grey, np.uint8))
    event = PartEvent(at.wall, id=f"p{i:03d}", mono=at.mono)
    return event, PartExtra(Verdict(good=True), CountedPart(float(i), at, [view]))


def state(i: int, name: str = "running") -> StateEvent:
    return StateEvent(T0 + timedelta(seconds=i), name, None, f"s{i:03d}", float(i))  # type: ignore[arg-type]


def wait_until(predicate: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.01)
    return False


def ids(events: list[Event]) -> list[str | None]:
    return [e.id for e in events]


def test_verdicts_are_handed_on_in_the_order_the_events_came() -> None:
    inspector, sink = GatedInspector(), ListSink()
    queue = InspectQueue(inspector, sink)
    queue.start()
    sent: list[Event] = [state(0)]
    queue.emit(state(0))
    for i, grey in enumerate([200, 40, 180, 90], start=1):
        event, extra = counted(i, grey)
        queue.emit(event, extra)
        sent.append(event)
    queue.emit(state(5, "stopped"))
    sent.append(state(5, "stopped"))
    assert sink.events == []  # nothing passes a part still waiting for the model
    inspector.gate.set()
    assert queue.stop(5.0)
    assert ids(sink.events) == ids(sent)
    parts = [e for e in sink.events if isinstance(e, PartEvent)]
    assert [p.good for p in parts] == [True, False, True, False]
    assert [p.defect for p in parts] == [None, "dark", None, "dark"]
    assert all(p.inspected and p.score is not None for p in parts)
    assert [x.verdict.good for x in sink.extras] == [True, False, True, False]


def test_parts_beyond_the_backlog_are_counted_uninspected() -> None:
    inspector, sink = GatedInspector(), ListSink()
    queue = InspectQueue(inspector, sink, max_waiting=4)
    queue.start()
    sent = [counted(i, 40) for i in range(10)]  # all dark: the model would reject them
    for event, extra in sent:
        queue.emit(event, extra)
    assert queue.waiting == 4
    assert queue.counters.not_inspected == 6
    assert queue.take_peak() == 4
    inspector.gate.set()
    assert queue.stop(5.0)
    assert ids(sink.events) == [e.id for e, _ in sent]  # every part, in order
    parts = [e for e in sink.events if isinstance(e, PartEvent)]
    assert [p.inspected for p in parts] == [True] * 4 + [False] * 6
    assert [p.good for p in parts] == [False] * 4 + [True] * 6
    assert all(p.score is None and p.defect is None for p in parts[4:])
    assert len(inspector.seen) == 4  # the model never saw the uninspected ones


def test_a_part_the_model_fails_on_is_counted_uninspected() -> None:
    inspector, sink = GatedInspector(broken=77), ListSink()
    inspector.gate.set()
    queue = InspectQueue(inspector, sink)
    queue.start()
    for i, grey in enumerate([200, 77, 40]):
        queue.emit(*counted(i, grey))
    assert queue.stop(5.0)
    parts = [e for e in sink.events if isinstance(e, PartEvent)]
    assert [(p.inspected, p.good) for p in parts] == [(True, True), (False, True), (True, False)]
    assert queue.counters.failures == 1 and queue.counters.not_inspected == 1


def test_a_part_the_model_cannot_judge_is_counted_uninspected() -> None:
    inspector, sink = GatedInspector(), ListSink()
    inspector.gate.set()
    queue = InspectQueue(inspector, sink)
    queue.start()
    for i, grey in enumerate([UNJUDGEABLE, 40, 200]):
        queue.emit(*counted(i, grey))
    assert queue.stop(5.0)
    parts = [e for e in sink.events if isinstance(e, PartEvent)]
    assert [(p.inspected, p.good, p.score) for p in parts][0] == (False, True, None)
    assert [(p.inspected, p.good) for p in parts[1:]] == [(True, False), (True, True)]
    assert queue.counters.not_inspected == 1 and queue.counters.failures == 0


def test_replay_marks_a_part_the_model_cannot_judge_as_the_daemon_does() -> None:
    """Replay and teach judge inline (`pipeline.judged`): the same event as the queue's."""
    event, _ = counted(0, UNJUDGEABLE)
    part = judged(event, Verdict(good=True, inspected=False))
    assert (part.inspected, part.good, part.score, part.defect) == (False, True, None, None)
    assert judged(event, Verdict(good=False, score=2.0)).inspected


def test_inference_time_leaves_out_parts_the_model_did_not_judge() -> None:
    inspector = GatedInspector()
    inspector.gate.set()
    timed = TimedInspector(inspector)
    for grey in (UNJUDGEABLE, 200, UNJUDGEABLE, 40):
        timed.inspect(counted(0, grey)[1].part.views)
    assert timed.calls == 2


def test_stop_hands_on_a_stuck_models_parts_uninspected() -> None:
    inspector, sink = GatedInspector(), ListSink()  # the gate never opens
    queue = InspectQueue(inspector, sink)
    queue.start()
    sent = [counted(i, 40) for i in range(3)]
    for event, extra in sent:
        queue.emit(event, extra)
    queue.emit(state(9, "no_data"))
    assert wait_until(lambda: queue.oldest_s > 0.2)
    assert not queue.stop(0.2)
    assert ids(sink.events) == [*(e.id for e, _ in sent), "s009"]
    assert [getattr(e, "inspected", None) for e in sink.events] == [False, False, False, None]
    inspector.gate.set()  # the model wakes up late: nothing is handed on twice
    time.sleep(0.1)
    assert len(sink.events) == 4


def test_parts_are_not_marked_without_a_taught_model() -> None:
    from agent.inspection import NoInspection

    sink = ListSink()
    queue = InspectQueue(NoInspection(), sink, max_waiting=0)
    queue.start()
    queue.emit(*counted(0, 40))
    assert queue.stop(5.0)
    assert sink.events[0].inspected is True  # type: ignore[union-attr]


def test_emit_never_waits_for_a_busy_disk(tmp_path: Path) -> None:
    with Store.open(tmp_path / "line.db") as store:
        recorder = Recorder(store, CONFIG)
        recorder.start_writer(retry_s=0.1)
        with store.connection.lock:  # the disk is busy with a write
            began = time.perf_counter()
            for i in range(20):
                recorder.emit(PartEvent(T0 + timedelta(seconds=i), id=f"p{i:03d}"))
            took = time.perf_counter() - began
            assert wait_until(lambda: recorder.oldest_s > 0.3)
            assert recorder.pending == 20
        assert took < 0.5
        assert wait_until(lambda: recorder.pending == 0)
        assert recorder.oldest_s == 0.0
        assert recorder.stop_writer(5.0)
        assert [e.id for e in store.events()] == [f"p{i:03d}" for i in range(20)]


def test_stopping_the_writer_leaves_the_rest_to_flush(tmp_path: Path) -> None:
    config = parse_config({"line": {"id": "q", "ideal_cycle_s": 1.0}})  # 5 s groups
    with Store.open(tmp_path / "line.db") as store:
        recorder = Recorder(store, config)
        recorder.start_writer()
        recorder.emit(state(0))
        recorder.emit(PartEvent(T0 + timedelta(seconds=1), id="p001"))
        time.sleep(0.3)
        assert store.events() == []  # waiting for its group
        assert recorder.stop_writer(5.0)
        assert recorder.flush()
        assert ids(store.events()) == ["s000", "p001"]


def test_an_uninspected_part_reads_back_from_log_store_and_feed(tmp_path: Path) -> None:
    part = PartEvent(T0, id=new_id(), mono=1.0, inspected=False)
    line = part.to_json()
    assert line["inspected"] is False
    assert event_from_json(json.loads(json.dumps(line))) == part
    assert "inspected" not in PartEvent(T0, id="x").to_json()
    with pytest.raises(ValueError, match="inspected must be true or false"):
        event_from_json({**line, "inspected": "no"})
    with Store.open(tmp_path / "line.db") as store:
        store.append(part)
        store.append(PartEvent(T0 + timedelta(seconds=1), id="judged"))
        assert [e.inspected for e in store.events()] == [False, True]  # type: ignore[union-attr]
        assert [p.inspected for p in store.parts()] == [False, True]
    payload = part_payload(part)
    assert payload["inspected"] is False
    jsonschema.validate(payload, schema_for("part"))
    assert "inspected" not in part_payload(PartEvent(T0, id="y"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**payload, "inspected": True}, schema_for("part"))


def test_an_event_whose_messages_cannot_be_made_is_dropped_not_retried_forever(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agent.recorder as recorder_module

    made = recorder_module.messages_for

    def broken_for_p001(event: Event, *args: object) -> object:
        if event.id == "p001":
            raise ValueError("no topic for it")
        return made(event, *args)

    monkeypatch.setattr(recorder_module, "messages_for", broken_for_p001)
    with Store.open(tmp_path / "line.db") as store:
        recorder = Recorder(store, CONFIG)
        recorder.start_writer()
        for i in range(3):
            recorder.emit(PartEvent(T0 + timedelta(seconds=i), id=f"p{i:03d}"))
        assert wait_until(lambda: recorder.pending == 0)
        assert recorder.stop_writer(5.0)
        assert ids(store.events()) == ["p000", "p002"]
        assert recorder.counters.dropped == 1
