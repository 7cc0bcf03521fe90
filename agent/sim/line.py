"""A conveyor belt filmed from above, rendered from a seeded `Scenario` with ground truth.

The belt runs through a band of the frame; parts ride on it. The scenario is a list of
`Phase`s (the belt moving and fed, moving but starved, or halted), the look of the line
(belt colour, part designs, colours and sizes), and what makes real footage hard
(closely spaced or touching parts, queues released after a halt, lighting flicker,
drift and a sudden step, camera shake, motion blur, belt speed drift, sensor noise).
`render_line` writes the video with OpenCV and returns `GroundTruth`: each part's
design, defect and the time its centre crosses `count_at`, and the stops a correct
agent must find.

Rendering happens in a canonical frame where parts move along +x; the finished frame
is flipped or transposed into the scenario's `direction`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from agent.sim.parts import (
    DEFECT_KINDS,
    MIN_VISIBLE_PX,
    PartSpec,
    RenderedPart,
    composite,
    render_part,
)

logger = logging.getLogger(__name__)

DIRECTIONS = ("left_to_right", "right_to_left", "top_to_bottom", "bottom_to_top")
BELT_PATTERNS = ("seams", "cleats", "modular", "perforated")
#: Stop causes a phase can render (`Phase.cause`) and views (`Phase.view`).
CAUSES = ("starved", "blocked", "jam", "machine", "camera")
VIEWS = ("normal", "covered", "bumped")


@dataclass(frozen=True, slots=True)
class Phase:
    """A stretch of the scenario: the belt moving (fed with parts, or starved) or halted."""

    duration_s: float
    moving: bool = True
    feeding: bool = True
    #: Seconds of belt travel, from the phase's start, whose parts come edge to edge: a
    #: queue that built up upstream while the line was halted, released.
    queue_s: float = 0.0
    #: The stop's true cause (`GroundTruth.causes`), rendered where it shows: `blocked`
    #: (halted, parts queued edge to edge back from the outfeed), `jam` (halted, parts
    #: piled and skewed at one point), `machine` (halted, parts as they were),
    #: `starved` (moving, not fed), `camera` (see `view`).
    cause: str | None = None
    #: "normal", "covered" (a hand or a sheet over the lens: dark and blurred) or
    #: "bumped" (the camera knocked aside: the ROI shows the floor beside the belt).
    view: str = "normal"

    def __post_init__(self) -> None:
        if self.cause is not None and self.cause not in CAUSES:
            raise ValueError(f"unknown cause {self.cause!r} (one of {', '.join(CAUSES)})")
        if self.view not in VIEWS:
            raise ValueError(f"unknown view {self.view!r} (one of {', '.join(VIEWS)})")
        if self.cause in ("blocked", "jam", "machine") and self.moving:
            raise ValueError(f"a {self.cause} phase has the belt halted (moving=False)")


@dataclass(frozen=True)
class Scenario:
    """Everything that decides the footage; the same scenario renders the same video."""

    phases: tuple[Phase, ...]
    seed: int = 0
    width: int = 640
    height: int = 480
    fps: float = 30.0
    direction: str = "left_to_right"
    count_at: float = 0.5
    #: Belt band across the flow, as a fraction of the frame's cross dimension.
    belt_fraction: float = 0.42
    belt_colour: tuple[int, int, int] = (68, 68, 70)
    floor_colour: tuple[int, int, int] = (38, 40, 44)
    speed_px_s: float = 160.0
    #: Seconds of belt travel between parts entering the view (uniform range).
    pitch_s: tuple[float, float] = (0.7, 1.1)
    #: Chance that a part follows the one before edge to edge (0-2 px apart).
    touching_rate: float = 0.0
    designs: tuple[str, ...] = ("washer",)
    colours: tuple[str, ...] = ("steel",)
    size_px: tuple[float, float] = (64.0, 76.0)
    defect_rate: float = 0.0
    defects: tuple[str, ...] = DEFECT_KINDS
    #: Brightness flicker amplitude (fraction), a beat of mains light against the shutter.
    flicker: float = 0.0
    #: Brightness change from the first to the last frame (fraction, may be negative).
    drift: float = 0.0
    #: Camera shake: random whole-frame offsets up to this many pixels.
    shake_px: float = 0.0
    #: Sensor noise, standard deviation in grey levels.
    noise_sigma: float = 2.0
    #: "mp4v" (small files) or "MJPG" (every frame a high-quality JPEG).
    codec: str = "mp4v"
    # camera and belt under way
    #: Motion blur: length in px of the smear along the flow at `speed_px_s` (a long
    #: exposure); it scales with the belt's speed and vanishes when it halts.
    blur_px: float = 0.0
    #: Belt speed drift: the speed wanders by up to this fraction of `speed_px_s`.
    speed_drift: float = 0.0
    #: A sudden lighting step: (fraction of the footage at which, brightness change),
    #: e.g. (0.5, -0.25) for a lamp failing half way.
    light_step: tuple[float, float] = (0.0, 0.0)
    # belt look
    #: "seams", "cleats" (raised bars with a shadow), "modular" (plastic links, a brick
    #: grid) or "perforated" (a grid of holes).
    belt_pattern: str = "seams"
    #: The pattern's period along the flow, px (rounded to whole pixels).
    belt_period_px: float = 96.0
    #: Fraction of the belt under dirt and oil blotches (darker and lighter, faint).
    belt_dirt: float = 0.0
    # part look
    #: Part-to-part tolerance (size, outline, tint, texture): 1.0 = an ordinary spread.
    part_variation: float = 0.0
    #: 1 = clear defects; smaller = smaller, lower-contrast defects (0.4 is subtle).
    defect_strength: float = 1.0

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"unknown direction {self.direction!r}")
        if not self.phases:
            raise ValueError("a scenario needs at least one phase")
        if not 0.0 <= self.speed_drift < 1.0:
            raise ValueError("speed_drift must be in [0, 1)")
        if self.blur_px < 0:
            raise ValueError("blur_px must not be negative")
        if self.belt_pattern not in BELT_PATTERNS:
            raise ValueError(f"unknown belt_pattern {self.belt_pattern!r}")
        if not 8 <= self.belt_period_px <= 1000:
            raise ValueError("belt_period_px must be 8..1000")
        if not 0 <= self.belt_dirt < 1:
            raise ValueError("belt_dirt must be 0 or more and below 1")

    @property
    def duration_s(self) -> float:
        """Length of the footage in seconds."""
        return sum(p.duration_s for p in self.phases)

    @property
    def frames(self) -> int:
        """Number of frames rendered."""
        return round(self.duration_s * self.fps)

    @property
    def horizontal(self) -> bool:
        """Whether parts move along the frame's x axis."""
        return self.direction in ("left_to_right", "right_to_left")

    @property
    def canvas(self) -> tuple[int, int]:
        """(length along the flow, size across it) of the canonical frame."""
        return (self.width, self.height) if self.horizontal else (self.height, self.width)

    @property
    def belt_band(self) -> tuple[int, int]:
        """First and last+1 canonical rows of the belt."""
        across = self.canvas[1]
        half = round(across * self.belt_fraction / 2)
        return across // 2 - half, across // 2 + half

    @property
    def roi(self) -> tuple[int, int, int, int]:
        """The belt band as an ROI (x, y, w, h) in frame pixels."""
        length, _ = self.canvas
        c0, c1 = self.belt_band
        if self.horizontal:
            return (0, c0, length, c1 - c0)
        return (c0, 0, c1 - c0, length)


@dataclass(frozen=True, slots=True)
class TruthPart:
    """A part the scenario put on the belt."""

    index: int
    spec: PartSpec
    angle: float
    cross: float  # canonical cross-flow centre, px
    belt_offset: float  # canonical x = belt_position(t) - belt_offset
    #: Seconds from the first frame when its centre crosses count_at; None if never.
    t_count: float | None

    @property
    def defect(self) -> str | None:
        """Defect kind, None for a good part."""
        return self.spec.defect


@dataclass(frozen=True, slots=True)
class TruthStop:
    """A stop a correct agent reports: seconds from the first frame, and its reason."""

    start: float
    end: float
    reason: str | None = None


@dataclass
class GroundTruth:
    """What really happened in a rendered video."""

    path: Path
    scenario: Scenario
    parts: list[TruthPart]
    #: Per frame: belt moving, and whether any part overlaps the ROI.
    moving: np.ndarray = field(repr=False)
    occupied: np.ndarray = field(repr=False)

    @property
    def fps(self) -> float:
        """Frames per second of the footage."""
        return self.scenario.fps

    @property
    def frames(self) -> int:
        """Frames in the footage."""
        return int(self.moving.size)

    @property
    def counted(self) -> list[TruthPart]:
        """Parts whose centre crosses count_at while the footage runs, in order."""
        return sorted(
            (p for p in self.parts if p.t_count is not None), key=lambda p: p.t_count or 0.0
        )

    def stops(
        self, stop_after_s: float = 2.0, starved_after_s: float | None = None
    ) -> list[TruthStop]:
        """Stops as the contract defines them for these thresholds.

        A halt of at least `stop_after_s` is a stop (reason None); the belt moving with
        no part in the ROI for at least `starved_after_s` (default `stop_after_s`) is a
        `starved` stop. Times are seconds from the first frame.
        """
        starved_after = stop_after_s if starved_after_s is None else starved_after_s
        halted = ~self.moving
        empty = self.moving & ~self.occupied
        stops = [TruthStop(a, b) for a, b in self._runs(halted, stop_after_s)]
        stops += [TruthStop(a, b, "starved") for a, b in self._runs(empty, starved_after)]
        return sorted(stops, key=lambda s: s.start)

    def causes(self) -> list[TruthStop]:
        """Every phase with a `cause`: its span (seconds from the first frame) and cause."""
        out: list[TruthStop] = []
        t = 0.0
        for phase in self.scenario.phases:
            if phase.cause is not None:
                out.append(TruthStop(t, t + phase.duration_s, phase.cause))
            t += phase.duration_s
        return out

    def _runs(self, flags: np.ndarray, min_s: float) -> list[tuple[float, float]]:
        runs: list[tuple[float, float]] = []
        start: int | None = None
        for i, flag in enumerate([*flags.tolist(), False]):
            if flag and start is None:
                start = i
            elif not flag and start is not None:
                if (i - start) / self.fps >= min_s:
                    runs.append((start / self.fps, i / self.fps))
                start = None
        return runs

    def config(self, line_id: str = "sim", ideal_cycle_s: float = 0.8) -> dict[str, Any]:
        """A line configuration (as parsed TOML) that matches this footage."""
        sc = self.scenario
        return {
            "line": {"id": line_id, "ideal_cycle_s": ideal_cycle_s},
            "camera": {"source": str(self.path), "fps": sc.fps},
            "vision": {"roi": list(sc.roi), "direction": sc.direction, "count_at": sc.count_at},
        }


class _Belt:
    """Where the belt is (how far it has travelled) at any time.

    With `speed_drift` the speed is `speed_px_s * (1 + drift * sin(2 pi t / 23 s))`, a
    slow wander whose integral is closed-form, so positions stay exact.
    """

    DRIFT_PERIOD_S = 23.0

    def __init__(self, scenario: Scenario) -> None:
        self.speed = scenario.speed_px_s
        self.drift = scenario.speed_drift
        self.edges: list[tuple[float, float, float, Phase]] = []  # t0, t1, p0, phase
        t = p = 0.0
        for phase in scenario.phases:
            self.edges.append((t, t + phase.duration_s, p, phase))
            if phase.moving:
                p += self._run(t, t + phase.duration_s)
            t += phase.duration_s

    def _run(self, t0: float, t: float) -> float:
        """How far a moving belt travels from `t0` to `t`."""
        distance = (t - t0) * self.speed
        if self.drift:
            w = 2 * math.pi / self.DRIFT_PERIOD_S
            distance -= self.speed * self.drift / w * (math.cos(w * t) - math.cos(w * t0))
        return distance

    def speed_at(self, t: float) -> float:
        """The belt's speed (px/s) at `t`, 0 when halted."""
        if not self.moving(t):
            return 0.0
        w = 2 * math.pi / self.DRIFT_PERIOD_S
        return self.speed * (1.0 + self.drift * math.sin(w * t))

    def position(self, t: float) -> float:
        for t0, t1, p0, phase in self.edges:
            if t < t1:
                return p0 + self._run(t0, t) if phase.moving else p0
        t0, t1, p0, phase = self.edges[-1]
        return p0 + self._run(t0, t1) if phase.moving else p0

    def moving(self, t: float) -> bool:
        for t0, t1, _, phase in self.edges:
            if t0 <= t < t1:
                return phase.moving
        return self.edges[-1][3].moving

    def time_at(self, p: float) -> float | None:
        """First time the belt reaches position `p`, None if it never does."""
        for t0, t1, p0, phase in self.edges:
            if not phase.moving:
                continue
            p1 = p0 + self._run(t0, t1)
            if p0 <= p <= p1:
                if not self.drift:
                    return t0 + (p - p0) / self.speed
                lo, hi = t0, t1  # the travel is monotonic: bisect to a microsecond
                while hi - lo > 1e-6:
                    mid = (lo + hi) / 2
                    lo, hi = (mid, hi) if p0 + self._run(t0, mid) < p else (lo, mid)
                return (lo + hi) / 2
        return None


def _extent(part: RenderedPart) -> tuple[float, float]:
    """How far the part reaches behind and ahead of its centre along canonical x."""
    cols = np.nonzero((part.mask > 127).any(axis=0))[0]
    return part.centre[0] - cols[0], cols[-1] + 1 - part.centre[0]


def plan_parts(scenario: Scenario) -> tuple[list[TruthPart], list[RenderedPart]]:
    """Decide every part: spec, rotation, place on the belt, crossing time.

    One pass that must stay one (each draw of `rng` follows the previous one: splitting
    it would change every seeded scenario the benchmarks and tests rely on).
    """
    rng = np.random.default_rng(scenario.seed)
    belt = _Belt(scenario)
    length, _ = scenario.canvas
    c0, c1 = scenario.belt_band
    count_x = scenario.count_at * length
    truths: list[TruthPart] = []
    sprites: list[RenderedPart] = []
    # Belt positions at which a new part enters the view, over the feeding phases;
    # a first feeding phase starts with the belt already loaded.
    ranges = []  # (first entry, last entry, end of the released queue)
    for i, (t0, t1, p0, phase) in enumerate(belt.edges):
        if phase.moving and phase.feeding:
            p1 = p0 + belt._run(t0, t1)
            queue_end = (
                p0 + belt._run(t0, min(t1, t0 + phase.queue_s)) if phase.queue_s else -math.inf
            )
            ranges.append((p0 - (length if i == 0 else 0.0), p1, queue_end))
    back_of_previous = -math.inf  # belt offset of the previous part's back edge
    behind_previous = 0.0
    for r0, r1, queue_end in ranges:
        p = r0
        while True:
            size = float(rng.uniform(*scenario.size_px))
            defect = None
            if scenario.defects and rng.random() < scenario.defect_rate:
                defect = str(rng.choice(list(scenario.defects)))
            spec = PartSpec(
                design=str(rng.choice(list(scenario.designs))),
                colour=str(rng.choice(list(scenario.colours))),
                size=size,
                defect=defect,
                seed=int(rng.integers(2**31)),
                variation=scenario.part_variation,
                defect_strength=scenario.defect_strength,
            )
            sprite = render_part(spec, float(rng.uniform(0, 360)))
            behind, ahead = _extent(sprite)
            if truths and (rng.random() < scenario.touching_rate or p < queue_end):
                gap = float(rng.uniform(0, 2))
                cross = truths[-1].cross
            else:
                pitch = float(rng.uniform(*scenario.pitch_s)) * belt.speed
                gap = max(pitch - behind_previous - ahead, 12.0)
                margin = size * 0.75
                cross = float(rng.uniform(c0 + margin, max(c0 + margin + 1, c1 - margin)))
            # belt position at which it enters the view (its front edge at x = 0)
            entry = max(p, back_of_previous + gap)
            if entry > r1:
                break
            offset = entry + ahead  # canonical x of its centre is belt_position - offset
            t_cross = belt.time_at(offset + count_x)
            if t_cross is not None and t_cross > (scenario.frames - 1) / scenario.fps:
                t_cross = None
            truths.append(TruthPart(len(truths), spec, sprite.angle, cross, offset, t_cross))
            sprites.append(sprite)
            back_of_previous = offset + behind
            behind_previous = behind
            p = entry
    return truths, sprites


def _belt_texture(scenario: Scenario, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """The belt strip (cross x (length + loop) x 3) and the length after which it repeats.

    That loop is the pattern's period, or, with dirt (which does not repeat every
    period), three views' worth of periods.
    """
    length, _ = scenario.canvas
    c0, c1 = scenario.belt_band
    period = round(scenario.belt_period_px)
    if scenario.belt_pattern == "modular":
        period *= 2  # the modules' joints stagger from one link to the next
    tile = np.empty((c1 - c0, period, 3), np.float32)
    tile[:] = scenario.belt_colour
    tile += rng.normal(0, 6, size=(c1 - c0, period, 1))  # fabric speckle
    # the look draws from a generator of its own: the frames' noise is the same for any
    look = np.random.default_rng((scenario.seed, 7))
    if scenario.belt_pattern == "seams":
        tile[:, :4] += 20  # a seam every period: what shows an empty belt moving
    else:
        tile += _pattern(scenario.belt_pattern, tile.shape[:2], look)[..., None]
    smooth = cv2.GaussianBlur(tile, (3, 3), 0)
    if not scenario.belt_dirt:
        reps = length // period + 2
        return np.clip(np.tile(smooth, (1, reps, 1)), 0, 255).astype(np.uint8), period
    loop = period * math.ceil(3 * length / period)
    belt = (
        np.tile(smooth, (1, loop // period, 1))
        + _dirt((c1 - c0, loop), scenario.belt_dirt, look)[..., None]
    )
    belt = np.concatenate((belt, belt[:, : length + 1]), axis=1)
    return np.clip(belt, 0, 255).astype(np.uint8), loop


def _pattern(kind: str, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Grey offsets of one period of a patterned belt (across x period)."""
    rows, period = shape
    out = np.zeros(shape, np.float32)
    if kind == "cleats":  # a bright raised bar, its shadow falling downstream
        bar = max(3, period // 10)
        out[:, :bar] += 70
        out[:, bar : 2 * bar] -= 35
    elif kind == "modular":  # links of half the tile; the modules' joints staggered
        pitch = width = period // 2
        for x0, offset in ((0, 0), (pitch, width // 2)):
            for y0 in range(-offset, rows, width):
                out[max(0, y0) : y0 + width, x0 : x0 + pitch] += rng.uniform(-3, 3)
                out[max(0, y0) : y0 + 2, x0 : x0 + pitch] -= 25  # a joint along the flow
            out[:, x0 : x0 + 3] -= 35  # the hinge across the belt
            out[:, x0 + 3 : x0 + 9] += 12  # its knuckles
    else:  # perforated: round holes on a square grid, showing the dark frame below
        yy, xx = np.mgrid[0:rows, 0:period]
        radius = period / 5
        dist = np.hypot(xx - period / 2, (yy % period) - period / 2)
        out[dist < radius] -= 45
    return out


def _dirt(shape: tuple[int, int], fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Faint darker and lighter blotches over `fraction` of a belt loop (wrapping round)."""
    rows, loop = shape
    stains = np.zeros(shape, np.float32)
    covered = np.zeros(shape, np.uint8)
    while covered.mean() < fraction:
        centre = (float(rng.uniform(0, loop)), float(rng.uniform(0, rows)))
        axes = (int(rng.uniform(4, 30)), int(rng.uniform(3, 18)))
        angle = float(rng.uniform(0, 180))
        shade = float(rng.choice((-1.0, 1.0)) * rng.uniform(6, 18))
        blob = np.zeros(shape, np.uint8)
        for dx in (0, -loop):  # drawn twice so a blotch across the loop's end wraps
            cx = round(centre[0] + dx)
            cv2.ellipse(blob, (cx, round(centre[1])), axes, angle, 0, 360, 1, -1)
        stains[blob > 0] = shade
        covered |= blob
    return cv2.GaussianBlur(stains, (0, 0), 3)


def _orient(image: np.ndarray, direction: str) -> np.ndarray:
    if direction == "left_to_right":
        return image
    if direction == "right_to_left":
        return image[:, ::-1]
    if direction == "top_to_bottom":
        return image.transpose(1, 0, 2)
    return image.transpose(1, 0, 2)[::-1]


@dataclass(frozen=True)
class _Cluster:
    """Parts a `blocked` or `jam` phase shows in place of the belt's own.

    `parts`: (sprite, x, cross) each; `span`: the stretch along the flow they clear.
    """

    parts: list[tuple[RenderedPart, float, float]]
    span: tuple[float, float]


def _cluster(scenario: Scenario, cause: str, rng: np.random.Generator) -> _Cluster:
    """A queue back from the outfeed (`blocked`) or a pile at one point (`jam`)."""
    length, _ = scenario.canvas
    c0, c1 = scenario.belt_band
    middle = (c0 + c1) / 2
    parts: list[tuple[RenderedPart, float, float]] = []

    def sprite() -> RenderedPart:
        spec = PartSpec(
            design=str(rng.choice(list(scenario.designs))),
            colour=str(rng.choice(list(scenario.colours))),
            size=float(rng.uniform(*scenario.size_px)),
            seed=int(rng.integers(2**31)),
            variation=scenario.part_variation,
        )
        return render_part(spec, float(rng.uniform(0, 360)))

    if cause == "blocked":
        front = float(length)  # the first part stands at the outfeed's end
        reach = length * float(rng.uniform(0.4, 0.7))
        while length - front < reach:
            part = sprite()
            behind, ahead = _extent(part)
            x = front - ahead
            parts.append((part, x, middle + float(rng.uniform(-4, 4))))
            front = x - behind - float(rng.uniform(0, 2))
        return _Cluster(parts, (front - 4, float(length)))
    at = length * float(rng.uniform(0.3, 0.7))
    size = float(np.mean(scenario.size_px))
    room = max(0.0, (c1 - c0) / 2 - size / 2)
    for k in range(int(rng.integers(4, 7))):  # heaped: on both sides of the belt's middle
        side = 1.0 if k % 2 else -1.0
        cross = middle + float(np.clip(side * rng.uniform(0.2, 0.6) * size, -room, room))
        parts.append((sprite(), at + float(rng.uniform(-0.35, 0.35)) * size, cross))
    return _Cluster(parts, (at - 1.2 * size, at + 1.2 * size))


def _view(frame: np.ndarray, scenario: Scenario, view: str) -> np.ndarray:
    """A covered lens (dark, blurred) or a bumped camera (the ROI beside the belt)."""
    if view == "covered":
        return cv2.GaussianBlur(cv2.convertScaleAbs(frame, alpha=0.12), (0, 0), 9)
    if view == "bumped":
        c0, c1 = scenario.belt_band
        off = float(c1 - c0 + 12)
        dx, dy = (0.0, off) if scenario.horizontal else (off, 0.0)
        h, w = frame.shape[:2]
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 2.0, 1.0)
        matrix[:, 2] += np.array((dx, dy))
        return cv2.warpAffine(frame, matrix, (w, h), borderMode=cv2.BORDER_REFLECT)
    return frame


def render_frames(scenario: Scenario):  # type: ignore[no-untyped-def]
    """Yield (frame BGR, moving, occupied) for every frame of the scenario.

    Long because it is the simulator's frame loop: every rendered difficulty (light, shake,
    blur, noise, causes) is applied here in the order a camera would see it.
    """
    truths, sprites = plan_parts(scenario)
    causes = np.random.default_rng((scenario.seed, 11))
    clusters = {
        i: _cluster(scenario, phase.cause, causes)
        for i, phase in enumerate(scenario.phases)
        if phase.cause in ("blocked", "jam")
    }
    starts = np.cumsum([0.0] + [p.duration_s for p in scenario.phases])
    rng = np.random.default_rng(scenario.seed + 1)
    belt = _Belt(scenario)
    length, across = scenario.canvas
    c0, c1 = scenario.belt_band
    strip, loop = _belt_texture(scenario, rng)
    base = np.empty((across, length, 3), np.uint8)
    base[:] = scenario.floor_colour
    # fixed lighting falloff: brighter in the middle of the view along the flow
    xs = np.linspace(-1, 1, length, dtype=np.float32)
    falloff = np.ascontiguousarray(
        np.broadcast_to((1.0 - 0.08 * xs**2)[None, :, None], (across, length, 3))
    )
    # sensor noise as saturating add/subtract pairs of uint8 fields (cheap per frame)
    noise_bank = []
    for _ in range(8):
        field_ = rng.normal(0, scenario.noise_sigma, size=(scenario.height, scenario.width, 3))
        noise_bank.append(
            (np.clip(field_, 0, 255).astype(np.uint8), np.clip(-field_, 0, 255).astype(np.uint8))
        )
    frames = scenario.frames
    flicker_hz = 7.0
    extents = [_extent(s) for s in sprites]
    for i in range(frames):
        t = i / scenario.fps
        p = belt.position(t)
        canvas = base.copy()
        shift = int(p) % loop
        canvas[c0:c1] = strip[:, loop - shift : loop - shift + length]
        occupied = False
        index = min(int(np.searchsorted(starts, t, side="right")) - 1, len(scenario.phases) - 1)
        cluster = clusters.get(index)
        for truth, sprite, (behind, ahead) in zip(truths, sprites, extents, strict=True):
            x = p - truth.belt_offset
            if x + ahead < 0 or x - behind > length:
                continue
            if cluster is not None and x + ahead > cluster.span[0] and x - behind < cluster.span[1]:
                continue  # where the queue or the pile lies
            occupied = True
            composite(canvas, sprite, (x, truth.cross))
        for sprite, x, cross in cluster.parts if cluster is not None else ():
            occupied = True
            composite(canvas, sprite, (x, cross))
        gain = 1.0 + scenario.drift * (t / max(scenario.duration_s, 1e-9))
        step_at, step = scenario.light_step
        if step and t >= step_at * scenario.duration_s:
            gain += step
        if scenario.flicker:
            gain += scenario.flicker * math.sin(2 * math.pi * flicker_hz * t)
            gain += scenario.flicker * 0.5 * float(rng.uniform(-1, 1))
        if scenario.blur_px:
            # the belt and its parts smear along the flow by their travel in the exposure
            smear = round(scenario.blur_px * belt.speed_at(t) / belt.speed)
            if smear > 1:
                canvas[c0:c1] = cv2.blur(canvas[c0:c1], (smear, 1))
        lit = cv2.multiply(canvas.astype(np.float32), falloff, scale=gain, dtype=cv2.CV_8U)
        frame = np.ascontiguousarray(_orient(lit, scenario.direction))
        frame = _view(frame, scenario, scenario.phases[index].view)
        if scenario.shake_px:
            dx, dy = rng.uniform(-scenario.shake_px, scenario.shake_px, size=2)
            matrix = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
            frame = cv2.warpAffine(
                frame, matrix, (frame.shape[1], frame.shape[0]), borderMode=cv2.BORDER_REPLICATE
            )
        if scenario.noise_sigma:
            plus, minus = noise_bank[int(rng.integers(len(noise_bank)))]
            frame = cv2.subtract(cv2.add(frame, plus), minus)
        yield frame, belt.moving(t), occupied


def render_line(scenario: Scenario, path: str | Path) -> GroundTruth:
    """Render `scenario` into the video file `path` (.mp4 or .avi) and return its truth.

    Raises:
        RuntimeError: OpenCV cannot write the file.
    """
    path = Path(path)
    fourcc = cv2.VideoWriter.fourcc(*scenario.codec)
    writer = cv2.VideoWriter(str(path), fourcc, scenario.fps, (scenario.width, scenario.height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path} with codec {scenario.codec}")
    if scenario.codec == "MJPG":
        writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
    moving: list[bool] = []
    occupied: list[bool] = []
    try:
        for frame, is_moving, is_occupied in render_frames(scenario):
            writer.write(frame)
            moving.append(is_moving)
            occupied.append(is_occupied)
    finally:
        writer.release()
    truths, _ = plan_parts(scenario)
    logger.info("rendered %s: %d frames, %d parts", path, len(moving), len(truths))
    return GroundTruth(path, scenario, truths, np.array(moving), np.array(occupied))


def with_direction(scenario: Scenario, direction: str) -> Scenario:
    """The same scenario filmed with the parts flowing another way."""
    return replace(scenario, direction=direction)


def patterned_belt(
    pattern: str,
    period: float,
    travel: float,
    phases: tuple[Phase, ...],
    seed: int,
    analysis_fps: float = 15.0,
    **look: Any,
) -> Scenario:
    """A small hard clip (320x240) of a `pattern` belt for the flow and counting tests.

    The belt moves `travel` periods per analysed frame (at `analysis_fps`, the
    vision's default), under camera shake, sensor noise, flicker, a lighting step and
    motion blur; `look` adds or overrides more of the scenario (dirt, speed drift...).
    """
    hard: dict[str, Any] = {
        "shake_px": 1.5,
        "noise_sigma": 3.0,
        "flicker": 0.05,
        "light_step": (0.5, -0.25),
        "blur_px": 4.0,
    }
    return Scenario(
        phases,
        seed=seed,
        width=320,
        height=240,
        size_px=(34, 40),
        belt_pattern=pattern,
        belt_period_px=period,
        speed_px_s=travel * period * analysis_fps,
        **{**hard, **look},
    )


def running_time(scenario: Scenario) -> Callable[[float], float]:
    """Seconds from the first frame to the seconds the belt has run by then.

    Its travel over its nominal speed: the time a halt does not count. A part whose
    centre lies on the count line while the belt is halted crosses it at whatever
    instant a pixel of noise decides, before the halt or after it; in running time
    both are the same instant.
    """
    belt = _Belt(scenario)
    return lambda t: belt.position(t) / scenario.speed_px_s


def unseen_defects(line: Scenario) -> set[float]:
    """Crossing times (as the footage's truth rounds them) of defects that do not show.

    The simulator draws some cracks from the edge outwards, off the part: fewer than
    `MIN_VISIBLE_PX` of their pixels lie on it (an angle plate's inner corner points
    them into the gap). No inspection can see those; they are left out of the
    inspection figures, as in the tests.
    """
    truths, sprites = plan_parts(line)
    return {
        round(t.t_count, 3)
        for t, sprite in zip(truths, sprites, strict=True)
        if t.t_count is not None and t.defect and int(sprite.defect_mask.sum()) < MIN_VISIBLE_PX
    }
