"""The line's own reason codes, learnt from the supervisors' choices.

Every stop a supervisor gave a reason is an `Example`: its scene description (as a
short vector of features on comparable scales) and, when there was one, the backbone's
embedding of the ROI, labelled with the code they chose. A new stop gets the code most
of its nearest examples carry (closer ones weigh more). A stop unlike every example
gets the code the supervisors agree on for its built-in cause, if they do. Only codes
somebody assigned can come out; otherwise the built-in cause stands.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from agent.causes import BUILTIN_CAUSES, Cause
from agent.causes.scene import SceneDescription

#: Nearest examples that vote.
NEIGHBOURS = 5
#: An example farther than this (in feature units) is too unlike to vote.
MAX_DISTANCE = 1.0
#: The least share of a built-in cause's examples that must agree on a code for a
#: stop unlike every example to get it.
AGREE = 0.6
#: Weight of the built-in cause among the features (two causes apart: 0.71 * this * 2).
BUILTIN_WEIGHT = 0.5
#: Weight of the embedding's distance (unit vectors: 0..2) against the features'.
EMBEDDING_WEIGHT = 0.5


def _clip(value: float) -> float:
    return max(0.0, min(1.0, value))


def features(scene: SceneDescription, builtin: str | None = None) -> np.ndarray:
    """The scene (and its built-in cause) as numbers of comparable scale (about 0..1).

    The built-in cause counts, one-hot at `BUILTIN_WEIGHT`: what supervisors call the
    stops the rules call `blocked` is a strong hint for the next one.
    """
    view = scene.view
    cause = [BUILTIN_WEIGHT * float(builtin == c) for c in BUILTIN_CAUSES]
    return np.array(
        [
            float(scene.moving),
            math.log1p(max(scene.load, 0.0)) / math.log(11.0),
            float(scene.layout == "empty"),
            _clip(scene.longest_run / 8.0),
            _clip(scene.density - 1.0),
            _clip((scene.spread - 1.0) / 1.5),
            0.5 if scene.gather_at is None else scene.gather_at,
            float(scene.at_outfeed),
            _clip(abs(math.log(max(view.brightness, 1e-3))) / math.log(3.0)),
            _clip(-math.log(max(view.sharpness, 1e-3)) / math.log(10.0)),
            _clip(view.change / 0.5),
            *cause,
        ],
        np.float32,
    )


@dataclass(frozen=True)
class Example:
    """A stop a supervisor gave a reason: what it looked like, and the code."""

    code: str
    features: np.ndarray
    embedding: np.ndarray | None = None
    stop_id: str | None = None
    #: The built-in cause the rules gave it.
    builtin: str | None = None


def distance(a: Example, features_: np.ndarray, embedding: np.ndarray | None) -> float:
    """How unlike a stop is to an example (features, plus embeddings when both have one)."""
    d = float(np.linalg.norm(a.features - features_))
    if a.embedding is not None and embedding is not None and a.embedding.shape == embedding.shape:
        d += EMBEDDING_WEIGHT * float(np.linalg.norm(a.embedding - embedding))
    return d


def suggest(
    scene: SceneDescription,
    embedding: np.ndarray | None,
    examples: Sequence[Example],
    builtin: Cause,
    codes: Iterable[str] | None = None,
) -> Cause:
    """The line's code the nearest examples agree on, else the built-in cause.

    Args:
        scene: The new stop's description.
        embedding: Its ROI's embedding (unit vector), or None.
        examples: The line's examples (any order).
        builtin: What the rules say, the fallback.
        codes: The codes the line still lists (None: any assigned code may come out).
    """
    allowed = None if codes is None else set(codes)
    usable = [e for e in examples if allowed is None or e.code in allowed]
    if not usable:
        return builtin
    mine = features(scene, builtin.code)
    ranked = sorted((distance(e, mine, embedding), e.code) for e in usable)
    near = [(d, code) for d, code in ranked[:NEIGHBOURS] if d <= MAX_DISTANCE]
    if not near:
        return _same_builtin(usable, builtin) or builtin
    votes: dict[str, float] = {}
    for d, code in near:
        votes[code] = votes.get(code, 0.0) + 1.0 / (d + 0.05)
    code, weight = max(votes.items(), key=lambda kv: kv[1])
    share = weight / sum(votes.values())
    closeness = 1.0 - near[0][0] / MAX_DISTANCE
    confidence = share * (0.5 + 0.5 * closeness) * min(1.0, len(near) / 3)
    return Cause(code, round(confidence, 2), "learned")


def _same_builtin(examples: Sequence[Example], builtin: Cause) -> Cause | None:
    """The code supervisors gave most stops with this built-in cause, when they agree.

    For a stop unlike every example: if, say, three of the four `camera` stops were
    called `camera_moved`, so is this one (less surely than a near example would say).
    """
    codes = [e.code for e in examples if e.builtin == builtin.code]
    if len(codes) < 2:
        return None
    code, count = Counter(codes).most_common(1)[0]
    share = count / len(codes)
    if share < AGREE:
        return None
    return Cause(code, round(0.8 * share * builtin.confidence, 2), "learned")


def unit(vector: np.ndarray) -> np.ndarray:
    """`vector` scaled to length 1 (float32); zeros stay zeros."""
    v = np.asarray(vector, np.float32).ravel()
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v
