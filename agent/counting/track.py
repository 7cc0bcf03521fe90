"""Tracks by nearest centre along the flow; a track is counted once, when it crosses.

Each analysed frame, every live track predicts where it is now (its last centre moved
on by the belt's speed) and takes the nearest blob inside a gate around that prediction
(closest pairs first). A track that finds no blob coasts for up to `max_missed_s`; a
blob that finds no track starts one.

A track is counted when its centre goes from before the count line to on or past it;
the crossing time is interpolated between the two observations. A halted line keeps
its tracks where they are, so stopping and restarting with parts in view counts
nothing twice.

Touching parts do not always segment the same way from frame to frame, so:

- a track is *established* when it entered at the upstream edge of the ROI, was there
  in the first frame, or has been seen on its own for `establish_hits` frames; a
  track that appeared in the middle of the ROI (a piece of a part that split off for
  a frame, or a touching part that just separated from its neighbour) is counted only
  once established (at the time it crossed, if it crossed meanwhile);
- a blob that holds the predicted centres of two or more *strong* tracks (seen on
  their own for `establish_hits` frames, or twice with at least `neighbour_area` of
  the single part's area, `part_area`; until that is known, of a small whole piece's
  lately, `piece_area`, or else of the others': a touching neighbour) is touching
  parts merged in this frame:
  each of them moves on with the belt (and is counted if it crosses meanwhile)
  instead of one jumping to the merged centre. Any other track inside such a blob,
  or all but the longest-seen of several weak tracks inside one blob, was a piece:
  it is dropped;
- but a blob seen whole on its own with room for one part only (`one_part_below`:
  parts alike, their area known; the counter sets it) holds one part, whatever tracks
  followed pieces of it: all but the longest-seen are dropped.

A track that first appears already past the line is never counted, nor one that is
a *fragment*: seen whole on its own 3 times or more, its area varying more than
twofold (a piece of the belt's pattern or of dirt that stands out now and then, under
shake and changing light), and its median area under half a part's (`part_area`, or
until that is known, the median of the other tracks seen whole so).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from statistics import median

from agent.counting import Blob
from agent.flow.stops import Stamp

logger = logging.getLogger(__name__)

#: The most recent whole areas a track keeps (to judge a fragment).
_AREAS = 30


@dataclass(slots=True)  # slots: its fields are read and set a dozen times a frame
class Track:
    """A part followed from frame to frame (canonical work pixels)."""

    id: int
    x: float
    y: float
    length: float
    width: float
    seen: Stamp
    established: bool
    hits: int = 1
    missed: int = 0
    area: int = 0  # of the last blob it was seen as on its own
    #: The largest blob it was seen as (a fragment of the belt never grows to a part).
    largest: int = 0
    counted: bool = False
    #: When a provisional track crossed, kept until it is established.
    crossed: Stamp | None = None
    blob: Blob | None = None  # this frame's blob, None when coasting or covered
    #: Seen at least once whole as a blob of its own (not cut from a merged one by size
    #: alone, nor still coming in: what lay beyond the window's edge is unknown).
    sure: bool = True
    covered: bool = False  # inside a blob merged with touching parts this frame
    #: Its areas when seen whole on its own (not touching, wholly inside the window).
    areas: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Crossing:
    """A track's centre crossed the count line at `at`."""

    track: Track
    at: Stamp


class Tracker:
    """Matches blobs to tracks and reports crossings of the count line."""

    def __init__(
        self,
        along: int,
        count_at: float,
        max_missed_s: float = 0.5,
        establish_hits: int = 4,
        edge: int = 2,
        neighbour_area: float = 0.6,
    ) -> None:
        self.along = along
        self.line = count_at * along
        self.max_missed_s = max_missed_s
        self.establish_hits = establish_hits
        self.neighbour_area = neighbour_area
        self.edge = edge
        self.tracks: list[Track] = []
        self._next_id = 1
        self._frames = 0
        self._entry = 0.0
        self._exit = float(along)
        #: The single part's area when known (the counter sets it), else None.
        self.part_area: float | None = None
        #: Until then, a small whole piece's area lately (the counter sets it), else None.
        self.piece_area: float | None = None
        #: A blob seen whole under this area holds one part (parts alike; the counter
        #: sets it), else None.
        self.one_part_below: float | None = None

    def reset(self) -> None:
        """Drop every track (after a gap in the footage)."""
        self.tracks.clear()
        self._frames = 0

    def update(
        self,
        blobs: list[Blob],
        now: Stamp,
        speed_px_s: float,
        entry: float = 0.0,
        exit: float | None = None,
    ) -> list[Crossing]:
        """Match this frame's blobs; returns the crossings it completes.

        Blobs are looked for between `entry` and `exit` along the flow (default: the
        whole ROI): a track starting at `entry` is entering; one past `exit` is gone.
        """
        self._frames += 1
        self._entry = entry
        exit_x = self.along if exit is None else exit
        self._exit = exit_x
        step = max(0.0, speed_px_s)
        predicted = [t.x + step * (now.mono - t.seen.mono) for t in self.tracks]
        for track in self.tracks:
            track.blob = None
            track.covered = False
        crossings: list[Crossing] = []
        used_tracks: set[int] = set()
        used_blobs: set[int] = set()
        dropped: set[int] = set()

        # a handful of tracks and blobs: plain Python beats numpy's per-call cost here
        tys = [t.y for t in self.tracks]
        holds = [
            [
                ti
                for ti, (tx, ty) in enumerate(zip(predicted, tys, strict=True))
                if x0 - 1 <= tx <= x1 + 1 and y0 - 1 <= ty <= y1 + 1
            ]
            for x0, y0, x1, y1 in (b.box for b in blobs)
        ]
        for bi, inside in enumerate(holds):
            if len(inside) < 2:
                continue
            blob = blobs[bi]
            strong = [ti for ti in inside if self.tracks[ti].hits >= self.establish_hits]
            # a newer track seen on its own twice with a part's area (not a crumb) is a
            # touching neighbour, not a piece: it is covered too, and grows established
            # (against the single part's area once known, else a small whole piece's
            # lately: two pieces of one part coming in are not each other's measure)
            reference = (
                self.part_area
                or self.piece_area
                or sorted(self.tracks[ti].area for ti in strong or inside)[
                    len(strong or inside) // 2
                ]
            )
            strong += [
                ti
                for ti in inside
                if ti not in strong
                and self.tracks[ti].hits >= 2
                and self.tracks[ti].area >= self.neighbour_area * reference
            ]
            if len(strong) >= 2 and self._one_part(blob):
                # room for one part only: the others followed pieces of it (a part cut
                # in two for a few frames, each piece then followed as a part)
                strong = [
                    max(strong, key=lambda ti: (self.tracks[ti].counted, self.tracks[ti].hits, -ti))
                ]
            if len(strong) >= 2:
                used_blobs.add(bi)
                for ti in strong:
                    used_tracks.add(ti)
                    crossings += self._cover(self.tracks[ti], predicted[ti], now)
            # the rest were pieces of these parts (or of one part, if none is strong)
            keep = strong or [max(inside, key=lambda ti: (self.tracks[ti].hits, -ti))]
            dropped.update(ti for ti in inside if ti not in keep)
            if len(keep) == 1:
                # the blob lies around that track's predicted centre: it is that part,
                # even if a merge moved the blob's centre outside the usual gate
                used_blobs.add(bi)
                used_tracks.add(keep[0])
                crossings += self._observe(self.tracks[keep[0]], blob, now)

        pairs: list[tuple[float, int, int]] = []
        free_blobs = [(bi, b.x, b.y) for bi, b in enumerate(blobs) if bi not in used_blobs]
        for ti, track in enumerate(self.tracks):
            if ti in used_tracks or ti in dropped:
                continue
            tx, ty = predicted[ti], track.y
            gate_along = max(4.0, 0.5 * track.length)
            gate_across = max(4.0, 0.5 * track.width)
            # established tracks win ties against provisional ones
            penalty = 0.0 if track.established else 2.0
            for bi, bx, by in free_blobs:
                dx, dy = abs(bx - tx), abs(by - ty)
                if dx <= gate_along and dy <= gate_across:
                    pairs.append((dx + dy + penalty, ti, bi))
        pairs.sort()
        for _, ti, bi in pairs:
            if ti in used_tracks or bi in used_blobs:
                continue
            used_tracks.add(ti)
            used_blobs.add(bi)
            crossings += self._observe(self.tracks[ti], blobs[bi], now)

        survivors = []
        for ti, track in enumerate(self.tracks):
            if ti in dropped:
                logger.debug("track %d dropped: a piece of another part", track.id)
                continue
            if ti not in used_tracks:
                track.missed += 1
                if now.mono - track.seen.mono > self.max_missed_s:
                    continue
            if predicted[ti] - track.length / 2 > exit_x:
                continue
            survivors.append(track)
        self.tracks = survivors
        for bi, blob in enumerate(blobs):
            if bi not in used_blobs:
                self.tracks.append(self._start(blob, now))
        return crossings

    def _start(self, blob: Blob, now: Stamp) -> Track:
        entering = blob.box[0] <= self._entry + self.edge or self._frames == 1
        track = Track(
            self._next_id,
            blob.x,
            blob.y,
            blob.length,
            blob.width,
            now,
            entering,
            blob=blob,
            area=blob.area,
            sure=self._seen_whole(blob),
            largest=blob.area,
        )
        self._next_id += 1
        if blob.x >= self.line:
            track.counted = True  # appeared past the line: never counted
        return track

    def _one_part(self, blob: Blob) -> bool:
        """Whether a blob seen whole on its own holds one part by its area (parts alike)."""
        limit = self.one_part_below
        alone = self._seen_whole(blob) and not blob.touching
        return limit is not None and alone and blob.area < limit

    def _seen_whole(self, blob: Blob) -> bool:
        """A blob that is a part of its own: not a guess, and wholly inside the window."""
        inside = self._entry + self.edge < blob.box[0] and blob.box[2] < self._exit - self.edge
        return inside and not blob.guessed

    def _cover(self, track: Track, predicted: float, now: Stamp) -> list[Crossing]:
        """The track is inside a blob of merged touching parts: it moves on with the belt."""
        before, seen_before = track.x, track.seen
        track.x = predicted
        track.seen = now
        track.covered = True
        crossings = self._crossed(track, before, seen_before, now)
        if not track.established:
            track.hits += 1
            crossings += self._establish(track)
        return crossings

    def _establish(self, track: Track) -> list[Crossing]:
        if track.established or track.hits < self.establish_hits:
            return []
        track.established = True
        if track.crossed is not None and not track.counted:
            track.counted = True
            return [] if self._fragment(track) else [Crossing(track, track.crossed)]
        return []

    def _observe(self, track: Track, blob: Blob, now: Stamp) -> list[Crossing]:
        before, seen_before = track.x, track.seen
        track.x, track.y = blob.x, blob.y
        track.length = max(float(blob.length), 0.5 * track.length)
        track.width = max(float(blob.width), 0.5 * track.width)
        track.seen = now
        track.hits += 1
        track.missed = 0
        track.blob = blob
        track.area = blob.area
        track.largest = max(track.largest, blob.area)
        whole = self._seen_whole(blob)
        track.sure = track.sure or whole
        if whole and not blob.touching:
            track.areas.append(blob.area)
            del track.areas[:-_AREAS]
        crossings = self._crossed(track, before, seen_before, now)
        return crossings + self._establish(track)

    def _crossed(
        self, track: Track, before: float, seen_before: Stamp, now: Stamp
    ) -> list[Crossing]:
        if track.counted or track.crossed is not None or not (before < self.line <= track.x):
            return []
        span = track.x - before
        fraction = (self.line - before) / span if span > 0 else 1.0
        dt = (now.mono - seen_before.mono) * fraction
        at = Stamp(seen_before.mono + dt, seen_before.wall + timedelta(seconds=dt))
        if not track.established:
            track.crossed = at  # counted once the track is established
            return []
        track.counted = True
        return [] if self._fragment(track) else [Crossing(track, at)]

    def _fragment(self, track: Track) -> bool:
        """Whether a track is a fragment of the belt or dirt, not a part (see the module doc)."""
        areas = track.areas
        if len(areas) < 3 or max(areas) <= 2 * min(areas):
            return False
        reference = self.part_area
        if reference is None:
            others = [median(t.areas) for t in self.tracks if t is not track and len(t.areas) >= 3]
            reference = median(others) if others else None
        if reference is None or median(areas) >= 0.5 * reference:
            return False
        logger.debug("track %d not counted: a fragment (areas %s)", track.id, areas)
        return True

    @property
    def confirmed(self) -> list[Track]:
        """Tracks seen in at least two frames and seen (or covered) in this one."""
        return [t for t in self.tracks if t.hits >= 2 and (t.blob is not None or t.covered)]
