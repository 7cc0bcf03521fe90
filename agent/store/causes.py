"""Stop causes in the store: each stop's scene and suggestion, and the line's examples.

`stop_causes` (migration m006) holds, per stop, the suggested cause, the built-in one,
the scene description (JSON), the ROI's embedding (float32 bytes) and the picture's
path. The examples the suggestions learn from are not copied anywhere: an example is a
described stop whose latest reason assignment (TUI or `cmd/reason`) names a code, so a
correction simply relabels it. `reset_examples` forgets every assignment made so far
(the meta key `causes_examples_after` holds the last one forgotten); the assignments
themselves, and the stops' reasons, stay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agent.causes import Cause
from agent.causes.learn import Example, features
from agent.causes.scene import SceneDescription
from agent.store.db import StoreDb
from agent.store.store import Store

#: Meta key: reason assignments up to this seq are no longer examples.
RESET_KEY = "causes_examples_after"


@dataclass(frozen=True, slots=True)
class StoredCause:
    """A stop's suggestion as stored."""

    stop_id: str
    suggested_reason: str
    confidence: float
    source: str
    builtin: str
    scene: SceneDescription
    picture: str | None


@dataclass(frozen=True)
class StoredExample:
    """An example as `causes list` shows it: the stop, its code, when it was assigned."""

    stop_id: str
    code: str
    assigned: str
    scene: SceneDescription
    example: Example


def _db(store: Store) -> StoreDb:
    """The store's connection (this module is part of the store, like `outbox`)."""
    return store._conn


def save_stop_cause(
    store: Store,
    stop_id: str,
    cause: Cause,
    builtin: Cause,
    scene: SceneDescription,
    embedding: np.ndarray | None = None,
    picture: str | Path | None = None,
) -> None:
    """Keep a stop's suggestion, scene, embedding and picture (replacing any before)."""
    blob = None if embedding is None else np.asarray(embedding, "<f4").tobytes()
    now = store.clock.wall().timestamp()
    with _db(store).write() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO stop_causes (stop_id, suggested_reason, confidence, "
            "source, builtin, scene, embedding, picture, epoch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                stop_id,
                cause.code,
                min(1.0, max(0.0, cause.confidence)),
                cause.source,
                builtin.code,
                json.dumps(scene.to_json()),
                blob,
                None if picture is None else str(picture),
                now,
            ],
        )


def _scene(text: str) -> SceneDescription:
    data: dict[str, Any] = json.loads(text)
    return SceneDescription.from_json(data)


def stop_causes(store: Store, stop_ids: list[str]) -> dict[str, StoredCause]:
    """The stored suggestion of each of these stops that has one."""
    out: dict[str, StoredCause] = {}
    for i in range(0, len(stop_ids), 500):  # SQLite's bound on parameters
        chunk = stop_ids[i : i + 500]
        marks = ", ".join("?" * len(chunk))
        columns = "stop_id, suggested_reason, confidence, source, builtin, scene, picture"
        sql = f"SELECT {columns} FROM stop_causes WHERE stop_id IN ({marks})"  # noqa: S608
        rows = _db(store).read(sql, chunk)
        for stop_id, code, confidence, source, builtin, scene, picture in rows:
            out[stop_id] = StoredCause(
                stop_id, code, float(confidence), source, builtin, _scene(scene), picture
            )
    return out


def stored_examples(store: Store) -> list[StoredExample]:
    """The line's examples: described stops whose latest assignment names a code."""
    after = int(store.meta_get(RESET_KEY, 0))
    rows = _db(store).read(
        "SELECT c.stop_id, r.reason, r.ts, c.scene, c.embedding, c.builtin FROM stop_causes c "
        "JOIN stop_reasons r ON r.stop_id = c.stop_id "
        "WHERE r.seq = (SELECT max(seq) FROM stop_reasons WHERE stop_id = c.stop_id) "
        "AND r.seq > ? AND r.reason IS NOT NULL ORDER BY r.seq",
        [after],
    )
    out = []
    for stop_id, code, ts, scene_text, blob, builtin in rows:
        scene = _scene(scene_text)
        embedding = None if blob is None else np.frombuffer(blob, "<f4").copy()
        example = Example(code, features(scene, builtin), embedding, stop_id, builtin)
        out.append(StoredExample(stop_id, code, ts, scene, example))
    return out


def examples_version(store: Store) -> tuple[int, int]:
    """Changes whenever the examples may have: a reason assigned, or a reset."""
    return store.last_reason_seq(), int(store.meta_get(RESET_KEY, 0))


def reset_examples(store: Store) -> int:
    """Forget every example so far (assignments and reasons stay); how many went."""
    forgotten = len(stored_examples(store))
    store.meta_set(RESET_KEY, store.last_reason_seq())
    return forgotten
