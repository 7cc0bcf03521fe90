"""A conveyor belt filmed from above, rendered from a seeded `Scenario` with ground truth.

The belt runs through a band of the frame; parts ride on it. The scenario is a list of
`Phase`s (the belt moving and fed, moving but starved, or halted), the look of the line
(belt colour, part designs, colours and sizes), and what makes real footage hard
(closely spaced or touching parts, lighting flicker and drift, camera shake, sensor
noise). `render_line` writes the video with OpenCV and returns `GroundTruth`: each part's
design, defect and the time its centre crosses `count_at`, and the stops a correct
agent must find.

Rendering happens in a canonical frame where parts move along +x; the finished frame
is flipped or transposed into the scenario's `direction`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from agent.sim.parts import DEFECT_KINDS, PartSpec, RenderedPart, composite, render_part

logger = logging.getLogger(__name__)

DIRECTIONS = ("left_to_right", "right_to_left", "top_to_bottom", "bottom_to_top")


@dataclass(frozen=True, slots=True)
class Phase:
    """A stretch of the scenario: the belt moving (fed with parts, or starved) or halted."""

    duration_s: float
    moving: bool = True
    feeding: bool = True


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
    """Where the belt is (how far it has travelled) at any time."""

    def __init__(self, scenario: Scenario) -> None:
        self.speed = scenario.speed_px_s
        self.edges: list[tuple[float, float, float, Phase]] = []  # t0, t1, p0, phase
        t = p = 0.0
        for phase in scenario.phases:
            self.edges.append((t, t + phase.duration_s, p, phase))
            if phase.moving:
                p += phase.duration_s * self.speed
            t += phase.duration_s

    def position(self, t: float) -> float:
        for t0, t1, p0, phase in self.edges:
            if t < t1:
                return p0 + (t - t0) * self.speed if phase.moving else p0
        t0, t1, p0, phase = self.edges[-1]
        return p0 + (t1 - t0) * self.speed if phase.moving else p0

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
            p1 = p0 + (t1 - t0) * self.speed
            if p0 <= p <= p1:
                return t0 + (p - p0) / self.speed
        return None


def _extent(part: RenderedPart) -> tuple[float, float]:
    """How far the part reaches behind and ahead of its centre along canonical x."""
    cols = np.nonzero((part.mask > 127).any(axis=0))[0]
    return part.centre[0] - cols[0], cols[-1] + 1 - part.centre[0]


def plan_parts(scenario: Scenario) -> tuple[list[TruthPart], list[RenderedPart]]:
    """Decide every part: spec, rotation, place on the belt, crossing time."""
    rng = np.random.default_rng(scenario.seed)
    belt = _Belt(scenario)
    length, _ = scenario.canvas
    c0, c1 = scenario.belt_band
    count_x = scenario.count_at * length
    truths: list[TruthPart] = []
    sprites: list[RenderedPart] = []
    # Belt positions at which a new part enters the view, over the feeding phases;
    # a first feeding phase starts with the belt already loaded.
    ranges = []
    for i, (_, _, p0, phase) in enumerate(belt.edges):
        if phase.moving and phase.feeding:
            p1 = p0 + phase.duration_s * belt.speed
            ranges.append((p0 - (length if i == 0 else 0.0), p1))
    back_of_previous = -math.inf  # belt offset of the previous part's back edge
    behind_previous = 0.0
    for r0, r1 in ranges:
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
            if truths and rng.random() < scenario.touching_rate:
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


def _belt_texture(scenario: Scenario, rng: np.random.Generator) -> np.ndarray:
    """A periodic belt strip (cross x (length + period) x 3): seams and fabric speckle."""
    length, _ = scenario.canvas
    c0, c1 = scenario.belt_band
    period = 96
    tile = np.empty((c1 - c0, period, 3), np.float32)
    tile[:] = scenario.belt_colour
    tile += rng.normal(0, 6, size=(c1 - c0, period, 1))
    tile[:, :4] += 20  # a seam every period: what shows an empty belt moving
    smooth = cv2.GaussianBlur(tile, (3, 3), 0)
    reps = length // period + 2
    return np.clip(np.tile(smooth, (1, reps, 1)), 0, 255).astype(np.uint8)


def _orient(image: np.ndarray, direction: str) -> np.ndarray:
    if direction == "left_to_right":
        return image
    if direction == "right_to_left":
        return image[:, ::-1]
    if direction == "top_to_bottom":
        return image.transpose(1, 0, 2)
    return image.transpose(1, 0, 2)[::-1]


def render_frames(scenario: Scenario):  # type: ignore[no-untyped-def]
    """Yield (frame BGR, moving, occupied) for every frame of the scenario."""
    truths, sprites = plan_parts(scenario)
    rng = np.random.default_rng(scenario.seed + 1)
    belt = _Belt(scenario)
    length, across = scenario.canvas
    c0, c1 = scenario.belt_band
    strip = _belt_texture(scenario, rng)
    period = 96
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
        shift = int(p) % period
        canvas[c0:c1] = strip[:, period - shift : period - shift + length]
        occupied = False
        for truth, sprite, (behind, ahead) in zip(truths, sprites, extents, strict=True):
            x = p - truth.belt_offset
            if x + ahead < 0 or x - behind > length:
                continue
            occupied = True
            composite(canvas, sprite, (x, truth.cross))
        gain = 1.0 + scenario.drift * (t / max(scenario.duration_s, 1e-9))
        if scenario.flicker:
            gain += scenario.flicker * math.sin(2 * math.pi * flicker_hz * t)
            gain += scenario.flicker * 0.5 * float(rng.uniform(-1, 1))
        lit = cv2.multiply(canvas.astype(np.float32), falloff, scale=gain, dtype=cv2.CV_8U)
        frame = np.ascontiguousarray(_orient(lit, scenario.direction))
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
