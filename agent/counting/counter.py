"""The counter: segment, track, count at the line, and gather each part's views.

Views are full-resolution crops (the part's box grown by a margin) with the part's
mask, taken in frames where the part is wholly inside the ROI near the count line: up
to `max_views // 2` from just before the crossing, the crossing frame, and the frames
after it until `max_views` are gathered (or the part leaves). A counted part is handed
on once its views are complete, a few frames after it crossed; each view (the mask
grown to frame pixels, whether a neighbour touches it, the light around it) is made
when the views are first read, by whoever reads them: the daemon's inspect thread
rather than the counting one, and never on a line with no taught model. On a patterned belt, in
a run's first seconds, one cut before the segmenter knew the belt's kind waits while a
pattern it noted is on trial, and one cut while the segmenter's picture of the
pattern was young waits until the phases under it were seen often enough, up to
`_WAIT_S`, to take the pattern where it lay then (`BeltSegmenter.picture_then`); the
parts after it wait behind it, in order.

Counting needs every analysed frame only near the count line; elsewhere a part only
needs following, so `wants` lets the pipeline skip counting on two analysed frames in
three while no part is near the line (flow still runs on every analysed frame).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import overload

import cv2
import numpy as np

from agent.counting import Blob, CountedPart
from agent.counting.belt_light import BeltLight
from agent.counting.roi import RoiView
from agent.counting.segment import BeltMoment, BeltSegmenter
from agent.counting.track import Crossing, Track, Tracker
from agent.flow.stops import Stamp
from agent.inspection import PartCrop

logger = logging.getLogger(__name__)

_SQUARE = np.ones((3, 3), np.uint8)
#: A track never seen as big as this share of the single part's area is no part: a
#: fragment of the belt's pattern or dirt standing out now and then under shake and light.
_FRAGMENT = 0.3
#: Blobs this close (work pixels: 12 frame pixels at 1/4) are neighbours touching.
_NEAR = 3
#: The longest a counted part waits for the segmenter to know the belt (seconds from
#: its crossing): past it, it goes on without (its views say so).
_WAIT_S = 10.0


@dataclass(frozen=True, slots=True)
class _Cut:
    """A copied piece of a frame and where its top-left corner was."""

    image: np.ndarray
    x: int
    y: int
    #: The belt's pattern around it then, at the work resolution (canonical, float32),
    #: and that picture's work box (x0, y0, x1, y1); None on a plain belt.
    belt: tuple[np.ndarray, tuple[int, int, int, int]] | None = None
    #: Whether the segmenter knew then whether the belt has a pattern.
    belt_settled: bool = True
    #: Cut before the segmenter knew the belt's kind, or while its picture of the
    #: pattern was young: the part's work box, the cut's margin (frame pixels) and
    #: where the belt was, to read its pattern there once known (better).
    later: tuple[tuple[int, int, int, int], int, BeltMoment] | None = None


@dataclass(frozen=True, slots=True)
class _Frame:
    """What a view of a part needs from the frame it was seen in, besides its picture."""

    labels: np.ndarray  # the window's labels (0 = belt)
    offset: int  # the window's first column in the work image
    blobs: list[Blob]
    light: BeltLight


@dataclass(frozen=True, slots=True)
class _Seen:
    """A part as one frame near the line showed it: a view made only if it is used.

    Most seen before the crossing are not (only the last `max_views // 2` are), so the
    mask, the neighbours and the light are worked out when its views are read.
    """

    cut: _Cut
    blob: Blob
    frame: _Frame


class _Views(Sequence[PartCrop]):
    """A counted part's views, made from what its frames showed when first read.

    `make` may read only what the frames left (the cut, the blob, the frame's labels
    and light) and the ROI's geometry: it runs on the reader's thread, while the
    counter goes on. The frames are let go once the views are made.
    """

    def __init__(self, make: Callable[[_Seen], PartCrop], seen: list[_Seen]) -> None:
        self._make = make
        self._seen: list[_Seen] | None = seen
        self._count = len(seen)
        self._views: list[PartCrop] | None = None
        self._lock = threading.Lock()

    def _made(self) -> list[PartCrop]:
        with self._lock:
            if self._views is None:
                assert self._seen is not None
                self._views = [self._make(s) for s in self._seen]
                self._seen = None
            return self._views

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> PartCrop: ...

    @overload
    def __getitem__(self, index: slice) -> list[PartCrop]: ...

    def __getitem__(self, index: int | slice) -> PartCrop | list[PartCrop]:
        return self._made()[index]

    def __iter__(self) -> Iterator[PartCrop]:
        return iter(self._made())


@dataclass
class _Pending:
    track: Track
    at: Stamp
    seen: list[_Seen]  # its views to be (`_view`)
    frames_left: int


class PartCounter:
    """Counts parts in canonical work images (see the module docstring)."""

    def __init__(
        self,
        view: RoiView,
        count_at: float,
        min_area: int,
        contrast: float = 28.0,
        max_views: int = 5,
        margin: float = 0.15,
        origin_mono: float = 0.0,
        analysis_fps: float = 15.0,
        idle_every: int = 3,
        patterned_belt: bool = False,
    ) -> None:
        self.view = view
        #: The line was taught on a patterned belt: a part cut before the segmenter
        #: knows the belt's kind waits for it even before a pattern is noted.
        self.patterned_belt = patterned_belt
        self.segmenter = BeltSegmenter(min_area=min_area, contrast=contrast)
        self.tracker = Tracker(view.along, count_at)
        self.max_views = max(1, max_views)
        self.margin = margin
        self.origin_mono = origin_mono
        self.idle_every = max(1, idle_every)
        self._period = 1.0 / analysis_fps
        self._last_run: float | None = None
        # a count line close to where parts enter leaves no room for idle frames
        self._always = count_at * view.along < 0.25 * view.along
        #: Per uncounted track near the line: how it was seen in recent frames.
        self._before: dict[int, deque[_Seen]] = {}
        self._pending: list[_Pending] = []
        #: Counted parts waiting for the belt's kind (see the module docstring), with
        #: how their frames showed them (their views to be).
        self._waiting: deque[tuple[CountedPart, list[_Seen]]] = deque()
        self._last_crossing: float | None = None
        no_labels = np.zeros((0, 0), np.int32)
        no_light = BeltLight(np.zeros((0, 0, 3), np.uint8), no_labels, 0)
        self._frame = _Frame(no_labels, 0, [], no_light)  # this frame's labels and blobs
        self.blobs: list[Blob] = []
        self._lengths: deque[int] = deque(maxlen=50)
        self._offset, self._end = 0, view.along
        self._occupied = False
        self._occupied_frames = 0

    def reset(self) -> None:
        """Forget tracks and the belt (after a gap); counted parts already handed on stay."""
        self._last_run = None
        self._occupied = False
        self._occupied_frames = 0
        self.segmenter.reset()
        self.tracker.reset()
        self._before.clear()

    def wants(self, now: Stamp, belt_speed: float, moving: bool) -> bool:
        """Whether this analysed frame needs counting, or may be left to flow alone.

        Counting runs every analysed frame while a part is (predicted) near the count
        line on a moving belt, a counted part waits for views or the ROI is empty, and
        at least every `idle_every`-th analysed frame otherwise: far from the line a
        part only needs following, and on a belt the flow finds halted (`moving`
        False) none comes to the line.
        """
        if self._last_run is None or self._pending or self._always or not self.tracker.tracks:
            return True  # (an empty ROI: a part coming into view ends a starved stop)
        since = now.mono - self._last_run
        if since >= self.idle_every * self._period * 0.999:
            return True
        if not moving:
            return False
        step = max(0.0, belt_speed) * self.view.along * self.idle_every * self._period
        for track in self.tracker.tracks:
            ahead = track.x + max(0.0, belt_speed) * self.view.along * (now.mono - track.seen.mono)
            if abs(ahead - self.tracker.line) <= 0.5 * track.length + step + 2:
                return True
        return False

    @property
    def parts_in_view(self) -> bool:
        """Whether a part is in the ROI now (a confirmed track, or two frames of one)."""
        return self._occupied

    def _window(self, speed_px_s: float) -> tuple[int, int]:
        """Columns of the work image to segment and track: the count line's surroundings.

        Parts only need to be followed near the count line, so once a typical part
        length is known (the 80th percentile of whole pieces lately) the counter works
        from 3 part lengths before the line to 1.2 after it, plus a few analysed
        frames of travel; until then, while the segmenter still looks for a belt
        pattern (a modular belt's repeat of 45 work pixels needs 3 in view to fold),
        and where that reaches near an end of the ROI, on the whole ROI (or up to that
        end).
        """
        along = self.view.along
        if len(self._lengths) < 8 or self.segmenter.looking:
            return 0, along
        lengths = sorted(self._lengths)
        typical = lengths[int(0.8 * (len(lengths) - 1))]
        step = max(0.0, speed_px_s) * self._period
        # upstream: room to see touching parts apart before they reach the line;
        # downstream: room for the views after the crossing
        up = max(along / 6, 3.0 * typical + 3 * step + 4)
        down = max(along / 8, 1.2 * typical + 2 * step + 4)
        line = self.tracker.line
        a = max(0, int(line - up) // 4 * 4)
        b = min(along, -(-int(line + down) // 4) * 4)
        if a < 0.1 * along:
            a = 0
        if b > 0.9 * along:
            b = along
        return a, b

    def process(
        self, work: np.ndarray, frame: np.ndarray, now: Stamp, belt_speed: float
    ) -> list[CountedPart]:
        """One frame (see `agent.counting.Counter`)."""
        speed_px_s = belt_speed * self.view.along
        travel = 0.0 if self._last_run is None else speed_px_s * (now.mono - self._last_run)
        self._last_run = now.mono
        a, b = self._window(speed_px_s)
        self._offset, self._end = a, b
        blobs = self._segment(work, a, b, travel)
        self.tracker.part_area = self.segmenter.single_area
        self.tracker.piece_area = self.segmenter.piece_area
        self.tracker.one_part_below = self.segmenter.one_part_below
        crossings = self.tracker.update(blobs, now, speed_px_s, entry=a, exit=b)
        single = self.segmenter.single_area
        if single is not None:  # never as big as a fraction of a part: a fragment
            crossings = [c for c in crossings if c.track.largest >= _FRAGMENT * single]
        self._note_occupied(work, a, b)
        crossed = {c.track.id: c for c in crossings}
        live_ids = {t.id for t in self.tracker.tracks}
        self._collect_views(frame, crossed)
        done = self._release(self._advance_pending(frame, crossed, live_ids), now.mono)
        for stale in set(self._before) - live_ids:
            del self._before[stale]
        return sorted(done, key=lambda p: p.at.mono)

    def _segment(self, work: np.ndarray, a: int, b: int, travel: float) -> list[Blob]:
        """The blobs in the window `a:b` of the ROI, in ROI coordinates."""
        window = work if (a, b) == (0, work.shape[1]) else work[:, a:b]  # a view: no copy
        labels, found = self.segmenter.segment(window, a, travel)
        # (a window from the ROI's start: its blobs are in ROI coordinates already)
        blobs = found
        if a:
            blobs = [
                Blob(
                    k.label,
                    k.x + a,
                    k.y,
                    (k.box[0] + a, k.box[1], k.box[2] + a, k.box[3]),
                    k.area,
                    k.touching,
                    k.guessed,
                )
                for k in found
            ]
        self.blobs = blobs
        self._frame = _Frame(labels, a, blobs, BeltLight(work, labels, a))
        self._lengths.extend(k.length for k in found if k.box[0] > 0 and k.box[2] < b - a)
        return blobs

    def _note_occupied(self, work: np.ndarray, a: int, b: int) -> None:
        """Whether parts are in view (outside the window too: they hold off `starved`)."""
        confirmed = bool(self.tracker.confirmed)
        seen = confirmed or ((a, b) != (0, work.shape[1]) and self.segmenter.occupied(work))
        self._occupied = seen and (self._occupied_frames >= 1 or confirmed)
        self._occupied_frames = self._occupied_frames + 1 if seen else 0

    def _collect_views(self, frame: np.ndarray, crossed: dict[int, Crossing]) -> None:
        """Views of parts near the line: kept before they cross, handed over when they do."""
        for track in self.tracker.tracks:
            blob = track.blob
            if track.id in crossed:
                if blob is not None and not blob.touching and self._inside(blob):
                    self.segmenter.learn_part(blob.area)  # one sample per part seen alone
                seen = list(self._before.pop(track.id, deque()))
                if blob is not None and self._near_line(blob):
                    seen.append(self._seen_now(frame, blob))
                after = self.max_views - len(seen)
                self._pending.append(_Pending(track, crossed[track.id].at, seen, after))
            elif not track.counted and blob is not None and self._near_line(blob):
                # keep a copy of the part's surroundings (never the whole frame: a held
                # frame makes the decoder's next one come from fresh pages), and where
                # the part is; its mask is drawn only if the view is used
                queue = self._before.setdefault(track.id, deque(maxlen=self.max_views // 2))
                queue.append(_Seen(self._cut(frame, blob.box), blob, self._frame))

    def _advance_pending(
        self,
        frame: np.ndarray,
        crossed: dict[int, Crossing],
        live_ids: set[int],
    ) -> list[tuple[CountedPart, list[_Seen]]]:
        """Counted parts gathering views after the line: the ones now complete."""
        done: list[tuple[CountedPart, list[_Seen]]] = []
        still_pending = []
        for pending in self._pending:
            if pending.track.id in crossed:
                pass  # its crossing frame's view is already in
            elif pending.track.id not in live_ids or pending.frames_left <= 0:
                done.append(self._finish(pending))
                continue
            elif pending.track.blob is not None and self._near_line(pending.track.blob):
                pending.seen.append(self._seen_now(frame, pending.track.blob))
                pending.frames_left -= 1
            else:
                pending.frames_left -= 1
            if len(pending.seen) >= self.max_views or pending.frames_left <= 0:
                done.append(self._finish(pending))
            else:
                still_pending.append(pending)
        self._pending = still_pending
        return done

    def flush(self) -> list[CountedPart]:
        """Hand over counted parts still waiting for views or for the belt's kind."""
        done = self._release([self._finish(p) for p in self._pending], None)
        self._pending = []
        return sorted(done, key=lambda p: p.at.mono)

    def _release(
        self, finished: list[tuple[CountedPart, list[_Seen]]], now: float | None
    ) -> list[CountedPart]:
        """The counted parts to hand on now, in order (`now` None: all of them).

        A part with a view cut before the belt's kind was known, or while its picture
        was young, waits (and the parts after it behind it) until that view is `_ready`,
        for `_WAIT_S` at most; then its views take the belt as it lay when they were
        cut, as now known. With no pattern noted (a plain belt, or none seen yet)
        nothing waits: there is no belt picture to wait for; but on a line taught on a
        patterned belt a part cut before the belt's kind is known waits for it too (the
        parts in view at a run's start: their views are judged only with the belt
        under them).
        """
        self._waiting.extend(finished)
        out: list[CountedPart] = []
        while self._waiting:
            part, seen = self._waiting[0]
            waits = now is not None and now - part.at.mono < _WAIT_S
            if waits and not all(self._ready(s.cut) for s in seen):
                break
            self._waiting.popleft()
            out.append(replace(part, views=_Views(self._view, self._with_belt(seen))))
        return out

    def _ready(self, cut: _Cut) -> bool:
        """Whether the belt under a view is as well known as it will be (nothing to wait for)."""
        if cut.later is None:
            return True
        box, pad, moment = cut.later
        segmenter = self.segmenter
        if moment.model != segmenter.model:
            return True  # the belt model it was cut under is gone (`reset`)
        if segmenter.pattern_pending or (self.patterned_belt and not segmenter.settled):
            return False
        if not segmenter.settled or not segmenter.repeat:
            return True  # no pattern noted: a plain belt, no picture to wait for
        a0, c0, a1, c1 = self._belt_box(box, pad)
        return segmenter.seen_enough(a0, a1, (c0, c1), moment)

    def _with_belt(self, seen: list[_Seen]) -> list[_Seen]:
        """How the frames showed a part, with the belt under its cuts as now known of then.

        Cuts made before the belt was known or while its picture was young, if it is
        known now; the others as they were.
        """
        out = []
        for s in seen:
            cut = s.cut
            if cut.later is not None and self.segmenter.knows(cut.later[2]):
                box, pad, moment = cut.later
                picture = self._belt_near(box, pad, moment)
                if picture is not None or not cut.belt_settled:
                    s = replace(s, cut=replace(cut, belt=picture, belt_settled=True))
            out.append(s)
        return out

    def _finish(self, pending: _Pending) -> tuple[CountedPart, list[_Seen]]:
        """The counted part (its views still to make), and how its frames showed it."""
        seen = pending.seen[: self.max_views]
        cycle = None
        if self._last_crossing is not None:
            cycle = max(0.0, pending.at.mono - self._last_crossing)
        if self._last_crossing is None or pending.at.mono > self._last_crossing:
            self._last_crossing = pending.at.mono
        part = CountedPart(
            t=pending.at.mono - self.origin_mono,
            at=pending.at,
            cycle_s=cycle,
            track_id=pending.track.id,
            uncertain=not pending.track.sure,
        )
        return part, seen

    def _inside(self, blob: Blob) -> bool:
        """Wholly inside the window along the flow."""
        return self._offset < blob.box[0] and blob.box[2] < self._end

    def _near_line(self, blob: Blob) -> bool:
        """Wholly inside the window along the flow, and near the count line."""
        return self._inside(blob) and abs(blob.x - self.tracker.line) <= max(blob.length, 4)

    @staticmethod
    def _part_mask(seen: _Seen) -> np.ndarray:
        """The blob's pixels inside its box, at the work resolution (canonical)."""
        bx0, by0, bx1, by1 = seen.blob.box
        at = seen.frame.offset
        return seen.frame.labels[by0:by1, bx0 - at : bx1 - at] == seen.blob.label

    def _cut(self, frame: np.ndarray, box: tuple[int, int, int, int]) -> _Cut:
        """A copy of the part's box, grown by the margin, in full-resolution frame pixels."""
        x0, y0, x1, y1 = self.view.to_frame_box(box)
        pad = int(round(self.margin * max(x1 - x0, y1 - y0))) + 4
        fh, fw = frame.shape[:2]
        cx0, cy0 = max(0, x0 - pad), max(0, y0 - pad)
        cx1, cy1 = min(fw, x1 + pad), min(fh, y1 + pad)
        image = frame[cy0:cy1, cx0:cx1].copy()
        segmenter = self.segmenter
        settled = segmenter.settled
        belt = self._belt_near(box, pad) if settled else None
        later = None
        if not settled or segmenter.young:
            later = (box, pad, segmenter.moment())
        return _Cut(image, cx0, cy0, belt, settled, later)

    def _belt_near(
        self, box: tuple[int, int, int, int], pad: int, moment: BeltMoment | None = None
    ) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
        """The belt's pattern under a box grown by `pad` frame pixels, as it lies this frame.

        Read now (the pattern moves on with the belt), or as it lay at `moment`, and
        small: the work resolution, a work pixel more all round than the cut so that
        stretching it to frame pixels has neighbours to blend at the cut's edges.
        """
        a0, c0, a1, c1 = self._belt_box(box, pad)
        if moment is None:
            picture = self.segmenter.picture(a0, a1)
        else:
            picture = self.segmenter.picture_then(a0, a1, moment)
        if picture is None or a1 <= a0 or c1 <= c0:
            return None
        return np.ascontiguousarray(picture[c0:c1]), (a0, c0, a1, c1)

    def _belt_box(self, box: tuple[int, int, int, int], pad: int) -> tuple[int, int, int, int]:
        """The work box of the belt picture for a part's `box` cut with `pad` (see `_belt_near`)."""
        grow = -(-pad // self.view.factor) + 1
        along, across = self.view.shape
        a0, a1 = max(0, box[0] - grow), min(along, box[2] + grow)
        c0, c1 = max(0, box[1] - grow), min(across, box[3] + grow)
        return a0, c0, a1, c1

    def _belt_under(self, cut: _Cut) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The belt's pattern under `cut` in frame pixels (uint8) and where it is known.

        (None, None) on a plain belt; the second is None where it is known everywhere.
        """
        if cut.belt is None:
            return None, None
        picture, box = cut.belt
        x0, y0, x1, y1 = self.view.to_frame_box(box)
        upright = np.ascontiguousarray(self.view.from_canonical(picture))
        # a work pixel is the mean of its block's middle: linear stretching puts each
        # at its block's centre
        grown = cv2.resize(upright, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        h, w = cut.image.shape[:2]
        belt = np.full((h, w, 3), np.nan, np.float32)
        bx0, by0 = max(0, x0 - cut.x), max(0, y0 - cut.y)
        bx1, by1 = min(w, x1 - cut.x), min(h, y1 - cut.y)
        if bx1 > bx0 and by1 > by0:
            gx, gy = bx0 + cut.x - x0, by0 + cut.y - y0
            belt[by0:by1, bx0:bx1] = grown[gy : gy + by1 - by0, gx : gx + bx1 - bx0]
        known = ~np.isnan(belt[..., 0])
        # uint8 like the crop: a view is kept until its part is handed on (and teach
        # keeps hundreds)
        pixels = np.clip(np.nan_to_num(belt) + 0.5, 0, 255).astype(np.uint8)
        return pixels, None if known.all() else known

    def _seen_now(self, frame: np.ndarray, blob: Blob) -> _Seen:
        """The part as this frame shows it (its view made when it is handed on)."""
        return _Seen(self._cut(frame, blob.box), blob, self._frame)

    def _view(self, seen: _Seen) -> PartCrop:
        """The view of a part as it was seen (see `_crop`), on the reader's thread (`_Views`)."""
        blob = seen.blob
        return self._crop(
            seen.cut,
            blob,
            self._part_mask(seen),
            self._touching(seen),
            seen.frame.light.around(blob.box[1], blob.box[3]),  # agent.counting.belt_light
        )

    @staticmethod
    def _touching(seen: _Seen) -> bool:
        """Split from touching parts, or within `_NEAR` work pixels of another blob.

        Parts that touch in the frame often show a pixel or two apart at the work
        resolution (the opening cuts a point contact); either way a neighbour lies
        inside the part's crop.
        """
        blob, labels = seen.blob, seen.frame.labels
        if blob.touching:
            return True
        x0, y0, x1, y1 = blob.box
        if not any(
            other.label != blob.label
            and other.box[0] < x1 + _NEAR
            and x0 < other.box[2] + _NEAR
            and other.box[1] < y1 + _NEAR
            and y0 < other.box[3] + _NEAR
            for other in seen.frame.blobs
        ):
            return False  # no other blob's box comes near
        x0, x1 = x0 - seen.frame.offset, x1 - seen.frame.offset
        a, b = max(0, x0 - _NEAR), max(0, y0 - _NEAR)
        around = labels[b : y1 + _NEAR, a : x1 + _NEAR]
        grown = cv2.dilate((around == blob.label).view(np.uint8), _SQUARE, iterations=_NEAR)
        others = (around != blob.label) & (around > 0)
        return bool(np.any(grown.view(bool) & others))

    def _crop(
        self,
        cut: _Cut,
        blob: Blob,
        part_mask: np.ndarray,
        touching: bool,
        light: float | None = None,
    ) -> PartCrop:
        """The view: the cut image and the part's mask grown to frame pixels.

        It is `touching` when the blob was split from touching parts or lies against
        a neighbour, `clipped` when it reaches the ROI's edge across the flow.
        """
        x0, y0, x1, y1 = self.view.to_frame_box(blob.box)
        clipped = blob.box[1] <= 0 or blob.box[3] >= self.view.shape[1]
        image = cut.image
        part = part_mask.view(np.uint8) * 255  # (a bool mask's bytes are 0 and 1)
        part = np.ascontiguousarray(self.view.from_canonical(part))
        mask = np.zeros(image.shape[:2], np.uint8)
        grown = cv2.resize(part, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        mx0, my0 = x0 - cut.x, y0 - cut.y
        target = mask[my0 : my0 + grown.shape[0], mx0 : mx0 + grown.shape[1]]
        target[:] = grown[: target.shape[0], : target.shape[1]]
        belt, known = self._belt_under(cut)
        return PartCrop(
            image=image,
            mask=mask > 127,
            touching=touching,
            clipped=clipped,
            light=light,
            belt=belt,
            belt_known=known,
            belt_settled=cut.belt_settled,
        )
