"""Rendered parts: a few designs in several colours, with defects and their ground truth.

A part is drawn once at its rotation (4x supersampled, so edges are anti-aliased like
a camera's) into a `RenderedPart`: BGR pixels on black, an alpha mask, and the mask of
the pixels its defect changed. Everything follows from `PartSpec.seed`, so the same
spec renders the same pixels every time. `composite` pastes a rendered part onto a
frame (a belt) at any position.

Designs (part frame, unit = `size`, centre at the origin):
- `washer`: a disc with a centre hole and four bolt holes;
- `bracket`: a rounded plate with two large holes and a small centre hole;
- `angle`: an L-shaped plate with two holes;
- `hex`: a hexagonal nut with a centre hole.

Defect kinds: `scratch` (a thin light line), `crack` (a dark jagged line from the
edge), `missing_hole` (a hole not punched), `chipped_edge` (a bite out of the outline),
`stain` (a soft dark blot), `wrong_colour` (the whole part another colour).

`PartSpec.variation` adds the tolerance between good parts (size, outline and hole
positions, tint, surface texture; 1.0 is an ordinary production spread), drawn from a
second generator so that the default (0) renders exactly what it always did.
`PartSpec.defect_strength` scales defects (1 = full; 0.4 = small and low-contrast).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

logger = logging.getLogger(__name__)

DESIGNS: tuple[str, ...] = ("washer", "bracket", "angle", "hex")
DEFECT_KINDS: tuple[str, ...] = (
    "scratch",
    "crack",
    "missing_hole",
    "chipped_edge",
    "stain",
    "wrong_colour",
)

#: Defects whose visible pixels number fewer than this are not counted as defects
#: (a crack the simulator drew mostly off the part shows a handful of pixels).
MIN_VISIBLE_PX = 15
#: BGR base colours.
COLOURS: dict[str, tuple[int, int, int]] = {
    "steel": (178, 174, 170),
    "brass": (70, 160, 200),
    "blue": (175, 100, 40),
    "red": (50, 55, 190),
    "black": (50, 48, 46),
    "white": (228, 228, 225),
    "green": (70, 150, 60),
}
#: The colour a `wrong_colour` part gets instead of its own.
WRONG_COLOUR: dict[str, str] = {
    "steel": "brass",
    "brass": "steel",
    "blue": "green",
    "red": "brass",
    "black": "blue",
    "white": "brass",
    "green": "blue",
}

_SS = 4  # supersampling factor of the drawing
_Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class PartSpec:
    """What to draw: design, colour name, outer size in pixels, defect kind, seed."""

    design: str = "washer"
    colour: str = "steel"
    size: float = 70.0
    defect: str | None = None
    seed: int = 0
    #: Part-to-part tolerance: 0 = every part alike, 1 = an ordinary production spread.
    variation: float = 0.0
    #: 1 = clear defects; smaller = smaller and lower-contrast (0.4 is subtle).
    defect_strength: float = 1.0

    def __post_init__(self) -> None:
        if self.design not in DESIGNS:
            raise ValueError(f"unknown design {self.design!r} (one of {', '.join(DESIGNS)})")
        if self.colour not in COLOURS:
            raise ValueError(f"unknown colour {self.colour!r} (one of {', '.join(COLOURS)})")
        if self.defect is not None and self.defect not in DEFECT_KINDS:
            raise ValueError(f"unknown defect {self.defect!r} (one of {', '.join(DEFECT_KINDS)})")
        if not 12 <= self.size <= 1000:
            raise ValueError("size must be 12..1000 pixels")
        if not 0.0 <= self.variation <= 3.0:
            raise ValueError("variation must be 0..3")
        if not 0.0 < self.defect_strength <= 1.0:
            raise ValueError("defect_strength must be in (0, 1]")


@dataclass(frozen=True, slots=True)
class RenderedPart:
    """A drawn part: BGR on black, alpha (uint8 0..255), defect pixels (bool)."""

    image: np.ndarray
    mask: np.ndarray
    defect_mask: np.ndarray
    spec: PartSpec
    angle: float
    #: Pixel offset of the part's nominal centre inside `image` (x, y).
    centre: tuple[float, float] = field(default=(0.0, 0.0))

    @property
    def defect(self) -> str | None:
        """The defect kind, None for a good part."""
        return self.spec.defect


@dataclass(frozen=True, slots=True)
class _Geometry:
    outline: list[list[_Point]] | None  # polygons (part frame), or None for a disc
    radius: float  # disc radius when outline is None
    holes: list[tuple[_Point, float]]  # (centre, radius)
    #: Index into `holes` of the one a `missing_hole` part lacks.
    removable: list[int]


def _rounded_rect(w: float, h: float, r: float) -> list[_Point]:
    points: list[_Point] = []
    corners = [(w / 2 - r, h / 2 - r, 0), (-w / 2 + r, h / 2 - r, 90)]
    corners += [(-w / 2 + r, -h / 2 + r, 180), (w / 2 - r, -h / 2 + r, 270)]
    for cx, cy, start in corners:
        for step in range(7):
            a = math.radians(start + step * 15)
            points.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return points


def _geometry(design: str) -> _Geometry:
    if design == "washer":
        bolts = [
            ((0.33 * math.cos(a), 0.33 * math.sin(a)), 0.055)
            for a in (math.pi / 4 + k * math.pi / 2 for k in range(4))
        ]
        return _Geometry(None, 0.5, [((0.0, 0.0), 0.17), *bolts], [1, 2, 3, 4])
    if design == "bracket":
        holes = [((-0.3, 0.0), 0.08), ((0.3, 0.0), 0.08), ((0.0, 0.0), 0.045)]
        return _Geometry([_rounded_rect(1.0, 0.55, 0.08)], 0.0, holes, [0, 1, 2])
    if design == "angle":
        outline = [(-0.5, -0.5), (0.5, -0.5), (0.5, -0.16), (-0.16, -0.16), (-0.16, 0.5)]
        outline.append((-0.5, 0.5))
        holes = [((0.26, -0.33), 0.075), ((-0.33, 0.26), 0.075)]
        return _Geometry([outline], 0.0, holes, [0, 1])
    hexagon = [(0.5 * math.cos(k * math.pi / 3), 0.5 * math.sin(k * math.pi / 3)) for k in range(6)]
    return _Geometry([hexagon], 0.0, [((0.0, 0.0), 0.2)], [0])


@dataclass(frozen=True, slots=True)
class _Tolerance:
    """One part's deviation from nominal (all neutral for variation 0)."""

    size: float = 1.0  # factor on the outer size
    stretch: float = 1.0  # factor on one axis of the part frame (outline not quite true)
    hole_shift: tuple[tuple[float, float], ...] = ()  # per hole, part-frame units
    hole_scale: float = 1.0
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)  # per BGR channel
    texture: float = 1.0  # factor on the fine texture's amplitude
    mottle: float = 0.0  # amplitude (grey levels) of a soft, low-frequency surface pattern
    seed: int = 0


def _tolerance(spec: PartSpec, holes: int) -> _Tolerance:
    """Draw a part's tolerance from its own generator (the drawing's draws stay as they were)."""
    v = spec.variation
    if v <= 0:
        return _Tolerance()
    rng = np.random.default_rng([spec.seed, 1])
    shifts = tuple((float(a), float(b)) for a, b in rng.normal(0, 0.006 * v, size=(holes, 2)))
    return _Tolerance(
        size=float(1 + rng.normal(0, 0.015 * v)),
        stretch=float(1 + rng.normal(0, 0.012 * v)),
        hole_shift=shifts,
        hole_scale=float(1 + rng.normal(0, 0.04 * v)),
        tint=tuple(float(t) for t in 1 + rng.normal(0, 0.025 * v, size=3)),  # type: ignore[arg-type]
        texture=float(np.exp(rng.normal(0, 0.3 * v))),
        mottle=float(abs(rng.normal(0, 4.0 * v))),
        seed=int(rng.integers(2**31)),
    )


def _varied(geom: _Geometry, tol: _Tolerance) -> _Geometry:
    """`geom` with its outline stretched and holes moved as the part's tolerance says."""
    if not tol.hole_shift and tol.stretch == 1.0:
        return geom

    def stretched(p: _Point) -> _Point:
        return (p[0] * tol.stretch, p[1] / tol.stretch)

    outline = None if geom.outline is None else [[stretched(p) for p in o] for o in geom.outline]
    holes = [
        (
            (stretched(c)[0] + tol.hole_shift[i][0], stretched(c)[1] + tol.hole_shift[i][1]),
            r * tol.hole_scale,
        )
        for i, (c, r) in enumerate(geom.holes)
    ]
    return _Geometry(outline, geom.radius, holes, geom.removable)


def _boundary_points(geom: _Geometry) -> list[_Point]:
    """Points along the outer outline (part frame), for edge defects."""
    if geom.outline is None:
        return [
            (geom.radius * math.cos(a), geom.radius * math.sin(a))
            for a in np.linspace(0, 2 * math.pi, 48, endpoint=False)
        ]
    points: list[_Point] = []
    for poly in geom.outline:
        for i, (x0, y0) in enumerate(poly):
            x1, y1 = poly[(i + 1) % len(poly)]
            for f in (0.25, 0.5, 0.75):
                points.append((x0 + f * (x1 - x0), y0 + f * (y1 - y0)))
    return points


class _Frame:
    """Maps part-frame units to pixels of the supersampled drawing."""

    def __init__(self, size: float, angle: float, side: int) -> None:
        self.scale = size * _SS
        self.cos = math.cos(math.radians(angle))
        self.sin = math.sin(math.radians(angle))
        self.centre = side * _SS / 2.0

    def px(self, p: _Point) -> tuple[int, int]:
        x, y = p
        rx = x * self.cos - y * self.sin
        ry = x * self.sin + y * self.cos
        return (round(self.centre + rx * self.scale), round(self.centre + ry * self.scale))

    def length(self, r: float) -> int:
        return max(1, round(r * self.scale))


def _fill(canvas: np.ndarray, geom: _Geometry, frame: _Frame) -> None:
    if geom.outline is None:
        cv2.circle(canvas, frame.px((0.0, 0.0)), frame.length(geom.radius), 255, -1)
    else:
        polys = [np.array([frame.px(p) for p in poly], np.int32) for poly in geom.outline]
        cv2.fillPoly(canvas, polys, 255)


def _down(canvas: np.ndarray) -> np.ndarray:
    h, w = canvas.shape[:2]
    return cv2.resize(canvas, (w // _SS, h // _SS), interpolation=cv2.INTER_AREA)


def _inside_point(rng: np.random.Generator, geom: _Geometry, margin: float) -> _Point:
    """A random point well inside the part's body (not in a hole)."""
    for _ in range(200):
        x, y = rng.uniform(-0.45, 0.45, size=2)
        if geom.outline is None:
            inside = math.hypot(x, y) < geom.radius - margin
        else:
            inside = any(
                cv2.pointPolygonTest(np.array(poly, np.float32), (float(x), float(y)), True)
                > margin
                for poly in geom.outline
            )
        clear = all(math.hypot(x - hx, y - hy) > r + margin for (hx, hy), r in geom.holes)
        if inside and clear:
            return (float(x), float(y))
    return (0.0, 0.0)


def render_part(spec: PartSpec, angle: float = 0.0) -> RenderedPart:
    """Draw `spec` rotated by `angle` degrees (counter-clockwise on screen is negative).

    One drawing routine, layer after layer (body, holes, texture, defect), kept whole
    so the layers' order is visible.

    Returns:
        The part on a black square canvas big enough for any rotation; its `centre`
        is where the part frame's origin landed.
    """
    rng = np.random.default_rng(spec.seed)
    nominal = _geometry(spec.design)
    tol = _tolerance(spec, len(nominal.holes))
    geom = _varied(nominal, tol)
    side = int(math.ceil(spec.size * 1.5)) + 4
    frame = _Frame(spec.size * tol.size, angle, side)
    strength = spec.defect_strength
    # Defects shrink with their strength, less than their contrast does.
    extent = 0.4 + 0.6 * strength
    big = np.zeros((side * _SS, side * _SS), np.uint8)
    _fill(big, geom, frame)

    holes = list(geom.holes)
    missing: tuple[_Point, float] | None = None
    if spec.defect == "missing_hole":
        missing = holes.pop(int(rng.choice(geom.removable)))
    for centre, r in holes:
        cv2.circle(big, frame.px(centre), frame.length(r), 0, -1)

    chip = np.zeros_like(big)
    if spec.defect == "chipped_edge":
        boundary = _boundary_points(geom)
        bx, by = boundary[int(rng.integers(len(boundary)))]
        radius = float(rng.uniform(0.07, 0.1)) * extent
        cv2.circle(chip, frame.px((bx, by)), frame.length(radius), 255, -1)
        chip &= big
        big &= ~chip

    alpha = _down(big)
    body = alpha > 127
    base = np.array(COLOURS[spec.colour], np.float32)
    if spec.defect == "wrong_colour":
        wrong = np.array(COLOURS[WRONG_COLOUR[spec.colour]], np.float32)
        base = wrong if strength == 1.0 else base + strength * (wrong - base)
    if tol.tint != (1.0, 1.0, 1.0):
        base = base * np.array(tol.tint, np.float32)

    # Shading: light from the top left in screen space, a darker bevelled rim, a
    # per-part brightness and a fine surface texture (the natural variation of parts).
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    gradient = 1.0 - 0.18 * ((xx + yy) / (2 * side) - 0.5)
    inner = cv2.erode(body.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=2) > 0
    rim = np.where(body & ~inner, 0.82, 1.0).astype(np.float32)
    brightness = float(rng.uniform(0.97, 1.03))
    texture = rng.normal(0.0, 2.5, size=(side, side)).astype(np.float32)
    if tol.texture != 1.0 or tol.mottle > 0:
        texture = texture * tol.texture + _mottle(side, tol)
    shade = gradient * rim * brightness
    image = base[None, None, :] * shade[:, :, None] + texture[:, :, None]

    defect_mask = np.zeros((side, side), bool)
    if spec.defect is not None and spec.defect != "chipped_edge":
        image, defect_mask = _paint_defect(spec, rng, geom, frame, image, body, missing)
    elif spec.defect == "chipped_edge":
        defect_mask = _down(chip) > 63

    image = np.clip(image, 0, 255) * (alpha[:, :, None] / 255.0)
    centre = (side / 2.0, side / 2.0)
    return RenderedPart(image.astype(np.uint8), alpha, defect_mask, spec, angle, centre)


def _mottle(side: int, tol: _Tolerance) -> np.ndarray:
    """A soft surface pattern (casting, rolling marks) of amplitude `tol.mottle`."""
    rng = np.random.default_rng(tol.seed)
    noise = rng.normal(0.0, 1.0, size=(side, side)).astype(np.float32)
    soft = np.asarray(cv2.GaussianBlur(noise, (0, 0), 3.0), np.float32)
    return soft * (tol.mottle / max(float(soft.std()), 1e-6))


def _paint_defect(
    spec: PartSpec,
    rng: np.random.Generator,
    geom: _Geometry,
    frame: _Frame,
    image: np.ndarray,
    body: np.ndarray,
    missing: tuple[_Point, float] | None,
) -> tuple[np.ndarray, np.ndarray]:
    side = body.shape[0]
    big = np.zeros((side * _SS, side * _SS), np.uint8)
    strength = spec.defect_strength
    extent = 0.4 + 0.6 * strength
    if spec.defect == "wrong_colour":
        return image, body.copy()
    if spec.defect == "missing_hole":
        assert missing is not None
        cv2.circle(big, frame.px(missing[0]), frame.length(missing[1]), 255, -1)
        return image, (_down(big) > 127) & body
    if spec.defect == "scratch":
        x, y = _inside_point(rng, geom, 0.08)
        heading = rng.uniform(0, math.pi)
        half = rng.uniform(0.18, 0.26) * extent
        a = (x - half * math.cos(heading), y - half * math.sin(heading))
        b = (x + half * math.cos(heading), y + half * math.sin(heading))
        cv2.line(big, frame.px(a), frame.px(b), 255, thickness=max(_SS, round(_SS * 1.2)))
        line = _down(big).astype(np.float32)[:, :, None] / 255.0
        contrast = 75.0 * strength
        lighter = np.full(3, contrast, np.float32) if image.mean() < 170 else np.full(3, -contrast)
        out = image + line * lighter
        return out, (line[:, :, 0] > 0.25) & body
    if spec.defect == "crack":
        boundary = _boundary_points(geom)
        bx, by = boundary[int(rng.integers(len(boundary)))]
        heading = math.atan2(-by, -bx) + rng.uniform(-0.5, 0.5)
        points = [(bx, by)]
        for _ in range(int(rng.integers(4, 7))):
            heading += rng.uniform(-0.7, 0.7)
            step = rng.uniform(0.05, 0.08) * extent
            px, py = points[-1]
            points.append((px + step * math.cos(heading), py + step * math.sin(heading)))
        polyline = np.array([frame.px(p) for p in points], np.int32)
        cv2.polylines(big, [polyline], False, 255, thickness=round(_SS * 1.5))
        line = _down(big).astype(np.float32)[:, :, None] / 255.0
        out = image * (1.0 - 0.75 * strength * line)
        return out, (line[:, :, 0] > 0.25) & body
    # stain: a soft brownish blot
    x, y = _inside_point(rng, geom, 0.1)
    axes = (
        frame.length(rng.uniform(0.08, 0.13) * extent),
        frame.length(rng.uniform(0.06, 0.1) * extent),
    )
    cv2.ellipse(big, frame.px((x, y)), axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
    small = _down(big).astype(np.float32)
    blot = np.asarray(cv2.GaussianBlur(small, (0, 0), 1.5), np.float32)[:, :, None] / 255.0
    brown = np.array([30.0, 50.0, 75.0], np.float32)
    opacity = 0.6 * strength
    out = image * (1.0 - opacity * blot) + brown * opacity * blot
    return out, (blot[:, :, 0] > 0.25) & body


def composite(canvas: np.ndarray, part: RenderedPart, centre: tuple[float, float]) -> None:
    """Alpha-blend `part` onto `canvas` (H x W x 3 uint8, in place) centred at `centre`.

    Parts reaching past the canvas are clipped.
    """
    h, w = canvas.shape[:2]
    ph, pw = part.mask.shape
    x0 = round(centre[0] - part.centre[0])
    y0 = round(centre[1] - part.centre[1])
    cx0, cy0 = max(0, x0), max(0, y0)
    cx1, cy1 = min(w, x0 + pw), min(h, y0 + ph)
    if cx0 >= cx1 or cy0 >= cy1:
        return
    sx0, sy0 = cx0 - x0, cy0 - y0
    sx1, sy1 = sx0 + (cx1 - cx0), sy0 + (cy1 - cy0)
    alpha = part.mask[sy0:sy1, sx0:sx1].astype(np.float32)[:, :, None] / 255.0
    region = canvas[cy0:cy1, cx0:cx1].astype(np.float32)
    sprite = part.image[sy0:sy1, sx0:sx1].astype(np.float32)
    # the sprite is premultiplied by alpha (drawn on black)
    canvas[cy0:cy1, cx0:cx1] = (region * (1.0 - alpha) + sprite).astype(np.uint8)


def render_on_background(
    spec: PartSpec,
    angle: float = 0.0,
    background: tuple[int, int, int] = (70, 70, 72),
    canvas_size: int | None = None,
    noise: float = 2.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A part centred on a plain belt-coloured square, as a camera would crop it.

    Returns:
        (BGR image, part mask as bool, defect mask as bool), all the same size.
    """
    part = render_part(spec, angle)
    side = canvas_size or part.mask.shape[0]
    rng = np.random.default_rng(seed)
    canvas = np.empty((side, side, 3), np.float32)
    canvas[:] = background
    canvas += rng.normal(0, noise, size=canvas.shape)
    out = np.clip(canvas, 0, 255).astype(np.uint8)
    composite(out, part, (side / 2.0, side / 2.0))
    mask = np.zeros((side, side), bool)
    dmask = np.zeros((side, side), bool)
    _paste_bool(mask, part.mask > 127, part, side)
    _paste_bool(dmask, part.defect_mask, part, side)
    return out, mask, dmask


def _paste_bool(target: np.ndarray, source: np.ndarray, part: RenderedPart, side: int) -> None:
    ph, pw = source.shape
    x0 = round(side / 2.0 - part.centre[0])
    y0 = round(side / 2.0 - part.centre[1])
    cx0, cy0 = max(0, x0), max(0, y0)
    cx1, cy1 = min(side, x0 + pw), min(side, y0 + ph)
    target[cy0:cy1, cx0:cx1] |= source[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
