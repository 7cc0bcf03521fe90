"""The scene of a stop: what the ROI shows, from the pipeline's own masks and flow.

Pure functions of numpy arrays. The parts' mask is the counter's foreground over the
whole canonical work image (rows across the flow, columns along it). Parts lying in
view are grouped into *runs*: stretches along the flow whose columns hold foreground
(a gap of a pixel or two between parts edge to edge does not separate them). Each run
is measured against the line's usual part (`UsualScene`, learnt while it ran):

- its length in part lengths (a queue of n parts edge to edge is about n long);
- its *density*: parts' worth of foreground per part length (1 for single parts and
  queues; more where parts overlap along the flow or lie side by side: a pile);
- its *spread*: its extent across the flow in part widths (a pile or a skewed part
  reaches wider than one part).

The view is compared with how it looked while the line ran (`ViewCheck`): brightness,
sharpness and the light's profile across the belt. A covered lens is dark and blurred;
a bumped camera shows something else in the ROI.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

LAYOUTS: tuple[str, ...] = ("empty", "spaced", "queued", "piled")

#: Less than this many parts' worth in view: the belt is empty.
EMPTY_LOAD = 0.4
#: A run this many part lengths long or more is a queue.
QUEUE_LENGTHS = 2.5
#: A run at least this dense (parts' worth per part length), or this spread across
#: (part widths), holding 1.5 parts' worth or more, is a pile.
PILE_DENSITY = 1.3
PILE_SPREAD = 1.5
#: Bounds of a normal view against the usual one (ratios; `change` is a fraction).
DARKER, BRIGHTER = 0.65, 1.5
BLURRED = 0.2
CHANGED = 0.2


@dataclass(frozen=True, slots=True)
class UsualScene:
    """The line's usual part and spacing, in work pixels (learnt while it runs)."""

    part_length: float
    part_width: float
    part_area: float
    #: Median gap along the flow between neighbouring parts, None before it is known.
    gap: float | None = None

    @classmethod
    def guess(cls, across: int) -> UsualScene:
        """A part a third of the belt wide: the guess before any part was seen."""
        size = max(2.0, across / 3)
        return cls(size, size, 0.75 * size * size)


@dataclass(frozen=True, slots=True)
class ViewCheck:
    """The view now against the usual one: 1, 1, 0 is exactly as usual."""

    brightness: float = 1.0
    sharpness: float = 1.0
    #: Mean difference of the light's profile across the belt, gain removed (0..).
    change: float = 0.0

    @property
    def normal(self) -> bool:
        """Whether the view looks as usual (else the camera is covered or moved)."""
        return (
            DARKER <= self.brightness <= BRIGHTER
            and self.sharpness >= BLURRED
            and self.change <= CHANGED
        )

    @property
    def severity(self) -> float:
        """How far outside the usual the view is (0 within bounds, 1 far outside)."""
        dark = max(0.0, math.log(DARKER / max(self.brightness, 1e-3)))
        bright = max(0.0, math.log(max(self.brightness, 1e-3) / BRIGHTER))
        blur = max(0.0, math.log(BLURRED / max(self.sharpness, 1e-3)))
        change = max(0.0, self.change - CHANGED) * 4
        return min(1.0, dark + bright + blur + change)


@dataclass(frozen=True, slots=True)
class SceneDescription:
    """What the ROI showed when a stop started (see the module docstring)."""

    moving: bool
    #: Parts' worth of foreground in view.
    load: float
    layout: str
    #: Where the largest group of parts lies along the flow (0 infeed .. 1 outfeed).
    gather_at: float | None
    #: Whether that group reaches the outfeed end of the ROI.
    at_outfeed: bool
    #: The longest run, in part lengths.
    longest_run: float
    #: The largest group's parts' worth per part length, and reach across in part widths.
    density: float
    spread: float
    #: Median gap between groups against the usual gap (None: fewer than two groups).
    gap_ratio: float | None
    view: ViewCheck

    def to_json(self) -> dict[str, Any]:
        """A plain dict (the store keeps it as JSON)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SceneDescription:
        """Back from `to_json`."""
        return cls(**{**data, "view": ViewCheck(**data["view"])})

    def summary(self) -> str:
        """One line for people: 'halted, 4.1 parts queued at the outfeed'."""
        motion = "moving" if self.moving else "halted"
        if not self.view.normal:
            return f"{motion}, view not as usual"
        if self.layout == "empty":
            return f"{motion}, belt empty"
        where = "" if self.gather_at is None else f" at {self.gather_at:.0%} of the flow"
        if self.at_outfeed:
            where = " at the outfeed"
        return f"{motion}, {self.load:.1f} parts {self.layout}{where}"


@dataclass(frozen=True, slots=True)
class _Run:
    start: int
    end: int
    area: float
    across: int


def _runs(mask: np.ndarray, min_pixels: int = 2) -> list[_Run]:
    """Stretches of columns holding foreground; gaps of up to 2 columns are bridged."""
    columns = np.count_nonzero(mask, axis=0) >= min_pixels
    runs: list[_Run] = []
    cols = np.flatnonzero(columns)
    if cols.size == 0:
        return runs
    breaks = np.flatnonzero(np.diff(cols) > 3)
    starts = np.concatenate(([cols[0]], cols[breaks + 1]))
    ends = np.concatenate((cols[breaks], [cols[-1]])) + 1
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        piece = mask[:, a:b]
        rows = np.flatnonzero(piece.any(axis=1))
        runs.append(_Run(a, b, float(np.count_nonzero(piece)), int(rows[-1] - rows[0] + 1)))
    return runs


def _layout(load: float, longest: float, density: float, spread: float, parts: float) -> str:
    if load < EMPTY_LOAD:
        return "empty"
    if parts >= 1.5 and (density >= PILE_DENSITY or spread >= PILE_SPREAD):
        return "piled"
    if longest >= QUEUE_LENGTHS:
        return "queued"
    return "spaced"


def describe(
    mask: np.ndarray, moving: bool, usual: UsualScene, view: ViewCheck | None = None
) -> SceneDescription:
    """Describe a stop's scene from the parts' mask of the whole ROI (non-zero = part).

    Args:
        mask: Foreground of the canonical work image (rows across, columns along).
        moving: Whether the flow says the belt moves.
        usual: The line's usual part and spacing.
        view: The view check (default: a normal view).
    """
    along = mask.shape[1]
    fg = mask > 0
    runs = _runs(fg)
    load = float(np.count_nonzero(fg)) / usual.part_area
    if not runs:
        view = view or ViewCheck()
        return SceneDescription(moving, load, "empty", None, False, 0.0, 0.0, 0.0, None, view)
    biggest = max(runs, key=lambda r: r.area)
    parts = biggest.area / usual.part_area
    length = (biggest.end - biggest.start) / usual.part_length
    density = parts / max(length, 1.0)
    spread = biggest.across / usual.part_width
    longest = max(r.end - r.start for r in runs) / usual.part_length
    gaps = [b.start - a.end for a, b in zip(runs, runs[1:], strict=False)]
    gap_ratio = None
    if gaps and usual.gap:
        gap_ratio = float(np.median(gaps)) / usual.gap
    reach = max(2.0, 0.25 * usual.part_length)
    return SceneDescription(
        moving=moving,
        load=load,
        layout=_layout(load, longest, density, spread, parts),
        gather_at=(biggest.start + biggest.end) / 2 / along,
        at_outfeed=biggest.end >= along - reach,
        longest_run=longest,
        density=density,
        spread=spread,
        gap_ratio=gap_ratio,
        view=view or ViewCheck(),
    )


#: The least share of belt (pixels not parts) that view statistics are taken over.
BELT_SHARE = 0.2
_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def _row_medians(grey: np.ndarray, chosen: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The median of each row's chosen pixels (`counts` a row, every row has some), 8-bit.

    One sort of all rows, the pixels not chosen sorted past the end (as `np.nanmedian`
    over NaN for them, at a fraction of its cost); the mean of the two middle values
    of an even count, exact for whole grey levels.
    """
    values = np.where(chosen, grey, np.uint16(256))  # (uint16) after every grey level
    values.sort(axis=1)
    rows = np.arange(values.shape[0])
    low = values[rows, (counts - 1) // 2].astype(np.float32)
    high = values[rows, counts // 2].astype(np.float32)
    return (low + high) / 2


@dataclass(frozen=True, slots=True)
class ViewStats:
    """A view's brightness, sharpness and light profile across the belt.

    Brightness, sharpness and profile are taken over the belt's pixels (the parts'
    mask and its edges left out), so a queue of white parts is not a change of light
    and an empty belt not a blur; a view with hardly any belt left (covered, or turned
    away) is measured whole.
    """

    brightness: float
    sharpness: float
    #: Median grey of each row across the flow (NaN: a row hardly any belt shows in).
    profile: np.ndarray

    @classmethod
    def of(cls, grey: np.ndarray, mask: np.ndarray | None = None) -> ViewStats:
        """Measure a canonical 8-bit grey work image (rows across the flow), parts masked out."""
        if grey.dtype != np.uint8:
            raise ValueError(f"view statistics need an 8-bit grey image, not {grey.dtype}")
        lap = cv2.Laplacian(grey, cv2.CV_32F)
        belt = None if mask is None else (mask == 0).view(np.uint8)
        # shares as counts over sizes (`bool.mean` converts every pixel to float first);
        # the belt pixels of each row counted once, by one reduction
        counts = np.zeros(0, np.int32)
        if belt is not None:
            counts = cv2.reduce(belt, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()
        total = int(counts.sum())
        if belt is None or total / belt.size < BELT_SHARE:
            profile = np.median(grey, axis=1).astype(np.float32)
            return cls(float(grey.mean()), float(lap.var()), profile)
        # the belt's own texture, away from the parts' edges (white parts are sharp)
        clear = cv2.erode(belt, _CROSS, iterations=2) > 0
        sharpness = float(lap[clear].var()) if clear.any() else float(lap.var())
        shown = counts / belt.shape[1] >= BELT_SHARE
        profile = np.full(grey.shape[0], np.nan, np.float32)
        if shown.any():
            chosen = belt.view(bool)
            profile[shown] = _row_medians(grey[shown], chosen[shown], counts[shown])
        # the belt's mean grey: its whole sum (exact in a double) over its count, as
        # `grey[belt].mean()` divides them, without gathering the pixels
        brightness = cv2.sumElems(cv2.bitwise_and(grey, grey, mask=belt))[0] / total
        return cls(brightness, sharpness, profile)

    def blend(self, other: ViewStats, rate: float) -> ViewStats:
        """A running average moved `rate` of the way towards `other` (rows it shows)."""
        step = np.where(np.isnan(other.profile), 0.0, other.profile - self.profile)
        profile = np.where(np.isnan(self.profile), other.profile, self.profile + rate * step)
        return ViewStats(
            self.brightness + rate * (other.brightness - self.brightness),
            self.sharpness + rate * (other.sharpness - self.sharpness),
            profile.astype(np.float32),
        )

    def against(self, usual: ViewStats) -> ViewCheck:
        """The check of this view against the usual one."""
        change = 0.0
        if self.profile.shape == usual.profile.shape:
            both = ~(np.isnan(self.profile) | np.isnan(usual.profile))
            if both.mean() >= 0.3:  # else too little belt shows to compare its light
                mine = self.profile[both] / max(float(self.profile[both].mean()), 1.0)
                theirs = usual.profile[both] / max(float(usual.profile[both].mean()), 1.0)
                change = float(np.abs(mine - theirs).mean())
        else:
            change = 1.0
        return ViewCheck(
            brightness=self.brightness / max(usual.brightness, 1.0),
            sharpness=self.sharpness / max(usual.sharpness, 1e-3),
            change=change,
        )
