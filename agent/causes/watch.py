"""The pipeline's hook: learn what is usual while the line runs, describe each stop.

`StopWatcher.observe` takes every analysed frame (cheaply: it works about once a
second) to learn the line's usual part size and spacing from the counter's blobs and
the view's usual brightness, sharpness and light, and to keep a few small pictures of
the ROI from the last seconds. `StopWatcher.stop_scene` describes the scene when the
stop detector reports a stop: the description, the built-in cause, the picture of the
ROI nearest the stop's (backdated) start and at most one backbone embedding.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from agent.causes import Cause
from agent.causes.learn import unit
from agent.causes.rules import builtin_cause
from agent.causes.scene import SceneDescription, UsualScene, ViewCheck, ViewStats, describe
from agent.counting import Blob
from agent.counting.roi import RoiView

logger = logging.getLogger(__name__)

#: Seconds between the watcher's looks while the line runs.
LOOK_EVERY_S = 0.5
#: How fast the usual view follows a slowly changing light (per look).
VIEW_RATE = 0.05
#: Longest side of the kept pictures, px.
PICTURE_PX = 320

#: Turns a picture of the ROI (BGR) into an embedding, or None.
Embedder = Callable[[np.ndarray], np.ndarray | None]


@dataclass(frozen=True)
class StopScene:
    """What a stop's state event carries for the sink: scene, cause, picture, embedding."""

    scene: SceneDescription
    cause: Cause
    #: The ROI (frame orientation, BGR) nearest the stop's start, None if none was kept.
    picture: np.ndarray | None = None
    embedding: np.ndarray | None = None


class BackboneEmbedder:
    """The int8 backbone's mean stride-16 features of the ROI, a unit vector.

    The backbone is opened at the first stop, not before; without a runtime or model
    the stops are described without an embedding (logged once).
    """

    def __init__(self) -> None:
        self._backbone: Any = None
        self._tried = False

    def __call__(self, picture: np.ndarray) -> np.ndarray | None:
        """Embed one picture of the ROI (BGR)."""
        if not self._tried:
            self._tried = True
            try:
                from agent.inspection.runtime import Backbone

                self._backbone = Backbone()
            except Exception as exc:  # noqa: BLE001 - no runtime or model: describe without
                logger.warning("stop causes: no backbone embedding (%s)", exc)
        if self._backbone is None:
            return None
        return unit(self._backbone.features(picture).stride16.mean(axis=(0, 1)))


def backbone_embedder() -> Embedder:
    """A `BackboneEmbedder` (one per pipeline: an interpreter is not shared by threads)."""
    return BackboneEmbedder()


class StopWatcher:
    """Learns the usual scene of one line and describes its stops."""

    def __init__(self, view: RoiView, embed: Embedder | None = None, keep_s: float = 4.0):
        """Watch the ROI `view` cuts; `embed` (None: no embedding) runs once per stop."""
        self.view = view
        self.embed = embed
        self._lengths: deque[float] = deque(maxlen=60)
        self._widths: deque[float] = deque(maxlen=60)
        self._areas: deque[float] = deque(maxlen=60)
        self._gaps: deque[float] = deque(maxlen=60)
        self.usual_view: ViewStats | None = None
        self._pictures: deque[tuple[float, np.ndarray]] = deque(
            maxlen=int(keep_s / LOOK_EVERY_S) + 2
        )
        self._next_look: float | None = None

    @property
    def usual(self) -> UsualScene:
        """The usual part and spacing learnt so far (a guess before any part)."""
        if len(self._areas) < 3:
            return UsualScene.guess(self.view.shape[1])
        gap = float(np.median(self._gaps)) if len(self._gaps) >= 3 else None
        return UsualScene(
            float(np.median(self._lengths)),
            float(np.median(self._widths)),
            float(np.median(self._areas)),
            gap,
        )

    def observe(
        self,
        grey: np.ndarray,
        image: np.ndarray,
        mono: float,
        moving: bool,
        blobs: Sequence[Blob],
        foreground: Callable[[], np.ndarray | None],
    ) -> None:
        """One analysed frame.

        Args:
            grey: The canonical grey work image.
            image: The full frame (for pictures).
            mono: Its monotonic time.
            moving: The flow's verdict.
            blobs: The counter's latest blobs.
            foreground: Gives the parts' mask of the work image (called when it looks).
        """
        if self._next_look is not None and mono < self._next_look:
            return
        self._next_look = mono + LOOK_EVERY_S
        self._pictures.append((mono, self._picture(image)))
        if not moving:
            return  # a halted line teaches nothing about the usual scene
        stats = ViewStats.of(grey, foreground())
        if self.usual_view is None or self.usual_view.profile.shape != stats.profile.shape:
            self.usual_view = stats
        else:
            self.usual_view = self.usual_view.blend(stats, VIEW_RATE)
        self._learn_parts(blobs, grey.shape[1])

    def _learn_parts(self, blobs: Sequence[Blob], along: int) -> None:
        whole = [
            b for b in blobs if not (b.touching or b.guessed) and 0 < b.box[0] < b.box[2] < along
        ]
        for blob in whole:
            self._lengths.append(blob.length)
            self._widths.append(blob.width)
            self._areas.append(blob.area)
        ordered = sorted(whole, key=lambda b: b.x)
        for a, b in zip(ordered, ordered[1:], strict=False):
            self._gaps.append(max(0, b.box[0] - a.box[2]))

    def _picture(self, image: np.ndarray) -> np.ndarray:
        v = self.view
        roi = image[v.y : v.y + v.h, v.x : v.x + v.w]
        scale = min(1.0, PICTURE_PX / max(roi.shape[:2]))
        return cv2.resize(roi, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)

    def picture_at(self, mono: float) -> np.ndarray | None:
        """The kept picture nearest `mono` (None before the first look)."""
        if not self._pictures:
            return None
        return min(self._pictures, key=lambda kept: abs(kept[0] - mono))[1]

    def check_view(self, grey: np.ndarray, mask: np.ndarray | None = None) -> ViewCheck:
        """The view now against the usual one (normal before anything was learnt)."""
        if self.usual_view is None:
            return ViewCheck()
        return ViewStats.of(grey, mask).against(self.usual_view)

    def stop_scene(
        self,
        grey: np.ndarray,
        image: np.ndarray,
        mask: np.ndarray | None,
        moving: bool,
        start_mono: float,
    ) -> StopScene:
        """Describe the stop that started at `start_mono`, seen in this frame."""
        if mask is None:
            mask = np.zeros(grey.shape, np.uint8)
        scene = describe(mask, moving, self.usual, self.check_view(grey, mask))
        picture = self.picture_at(start_mono)
        embedding = None
        if self.embed is not None:
            embedding = self.embed(self._picture(image))
        return StopScene(scene, builtin_cause(scene), picture, embedding)
