"""The line's model of a good part, and how unusual a registered view is (pure numpy).

Three comparisons per position of the canonical pose, each learned from good parts:
- **pixels**: mean and spread of every pixel's colour; a view's pixel is compared with
  the best-matching position within one pixel (edges carry sub-pixel misalignment, so
  an edge pixel that matches its neighbour is not a defect). This finds thin scratches
  and cracks that pooled or coarse features average away.
- **detail**: the same signed differences less their local mean over the part's
  surface, so a part's slow changes (tint, mottling, the light across it) fall out and
  a faint scratch or stain stands out of them (`LineModel.pixel_maps`).
- **patches** (PaDiM): a Gaussian per position on the int8 backbone's stride-8 and
  stride-16 features (a fixed random subset of channels); the Mahalanobis distance
  finds changes of texture and colour that are too gradual for the pixel check.
Each map is divided by its own limit on held-out good parts (`calibrate`: 1 is that
comparison's threshold), so they are comparable; a part scores the largest of the
comparisons (`inspector.part_score`).
A texture line has no pixel comparison: a surface that looks alike everywhere has no
colour to expect at a given pixel, and its own dark gaps outscored pasted defects.

`LineModel` is everything a taught line needs to score a view, and it says how it is
saved: its arrays go to an `.npz`, its scalars to the manifest, both named after its
fields (`to_saved` / `from_saved`; `persist` writes the folder).
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar

import cv2
import numpy as np

from agent.inspection.light import belt_gain, isolate, light_gain, normalise
from agent.inspection.register import Appearance, grey_of
from agent.inspection.runtime import Backbone

#: Smallest colour spread assumed per pixel (grey levels): sensor noise floor.
PIXEL_SIGMA_FLOOR = 6.0
#: A 3 x 3 cross: an erosion by it moves an outline one pixel in.
_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
#: Offsets the pixel comparison tolerates (the 3 x 3 neighbourhood).
_OFFSETS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]


def _shifted(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """`a` moved by (dy, dx) with edge replication: out[y, x] = a[y - dy, x - dx]."""
    pad = np.pad(a, ((1, 1), (1, 1)) + ((0, 0),) * (a.ndim - 2), mode="edge")
    h, w = a.shape[:2]
    return pad[1 - dy : 1 - dy + h, 1 - dx : 1 - dx + w]


@dataclass
class PixelModel:
    """Per-pixel colour mean and spread over registered good views."""

    mean: np.ndarray  # side x side x 3
    sigma: np.ndarray  # side x side x 3
    #: Saved as "pixel_mean", "pixel_sigma".
    PREFIX: ClassVar[str] = "pixel_"

    @classmethod
    def fit(cls, images: np.ndarray) -> PixelModel:
        """From N x side x side x 3 float32 registered good views."""
        mean = images.mean(axis=0)
        sigma = np.sqrt(images.var(axis=0) + PIXEL_SIGMA_FLOOR**2)
        return cls(mean.astype(np.float32), sigma.astype(np.float32))

    def __post_init__(self) -> None:
        # The 3 x 3 neighbourhood's means and inverse spreads, stacked once, a plane per
        # channel (9 x 3 x H x W: numpy sums over an interleaved channel axis at several
        # times the cost of these contiguous planes).
        means = np.stack([_shifted(self.mean, dy, dx) for dy, dx in _OFFSETS])
        inverse = np.stack([1.0 / _shifted(self.sigma, dy, dx) for dy, dx in _OFFSETS])
        self._means = _planes(means)
        self._inv = _planes(inverse)

    def _differences(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Signed differences in spreads from each offset's mean, and their squares' sum.

        9 x 3 x H x W (a plane per channel) and 9 x H x W.
        """
        planes = np.ascontiguousarray(np.moveaxis(np.asarray(image, np.float32), 2, 0))
        z = planes[None] - self._means
        z *= self._inv
        squares = np.square(z[:, 0])
        squares += np.square(z[:, 1])
        squares += np.square(z[:, 2])
        return z, squares

    def distance(self, image: np.ndarray) -> np.ndarray:
        """Per-pixel distance (in spreads) to the best match within one pixel."""
        _, squares = self._differences(image)
        return np.asarray(np.sqrt(squares.min(axis=0) / 3.0), np.float32)

    def residual(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`distance`, and the signed difference (in spreads) it was taken from.

        The difference is a plane per channel: 3 x H x W.
        """
        z, squares = self._differences(image)
        least = squares.min(axis=0)
        signed = z[-1].copy()
        for k in range(len(z) - 2, -1, -1):  # the first best offset, as argmin would take
            np.copyto(signed, z[k], where=(squares[k] == least)[None])
        return np.asarray(np.sqrt(least / 3.0), np.float32), signed


def _planes(stack: np.ndarray) -> np.ndarray:
    """N x H x W x 3 as N x 3 x H x W float32, contiguous."""
    return np.ascontiguousarray(stack.transpose(0, 3, 1, 2), np.float32)


def stack_features(stride8: np.ndarray, stride16: np.ndarray, channels: np.ndarray) -> np.ndarray:
    """Stride-16 features upsampled onto the stride-8 grid, joined, channel subset: H x W x d."""
    h, w = stride8.shape[:2]
    up = cv2.resize(stride16, (w, h), interpolation=cv2.INTER_LINEAR)
    if up.ndim == 2:
        up = up[:, :, None]
    return np.concatenate([stride8, up], axis=2)[:, :, channels]


def backbone_features(backbone: Backbone, image: np.ndarray, channels: np.ndarray) -> np.ndarray:
    """The backbone's joined feature map of a (normalised) view, `channels` of it."""
    feats = backbone.features(np.clip(image, 0, 255).astype(np.uint8))
    return stack_features(feats.stride8, feats.stride16, channels)


@dataclass
class PatchModel:
    """PaDiM: a Gaussian per feature-map position (mean, inverse covariance)."""

    channels: np.ndarray  # indices into the joined stride-8 + stride-16 channels
    mean: np.ndarray  # H x W x d
    inv_cov: np.ndarray  # H x W x d x d
    #: Saved as "patch_channels", "patch_mean", "patch_inv_cov".
    PREFIX: ClassVar[str] = "patch_"

    @classmethod
    def fit(cls, features: np.ndarray, channels: np.ndarray, ridge: float = 0.01) -> PatchModel:
        """From N x H x W x d float32 features (already the channel subset)."""
        n, h, w, d = features.shape
        mean = features.mean(axis=0)
        centred = (features - mean).reshape(n, h * w, d).transpose(1, 0, 2)
        cov = np.matmul(centred.transpose(0, 2, 1), centred) / max(n - 1, 1)  # batched BLAS
        # Ridge in proportion to each position's variance keeps few samples invertible.
        scale = np.trace(cov, axis1=1, axis2=2)[:, None, None] / d
        cov += (ridge * scale + 1e-6) * np.eye(d, dtype=cov.dtype)[None]
        inv = np.linalg.inv(cov).reshape(h, w, d, d)
        return cls(channels, mean.astype(np.float32), inv.astype(np.float32))

    def distance(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distance per position (H x W)."""
        delta = features - self.mean
        if self.inv_cov.shape[:2] == (1, 1):
            m = np.einsum("hwd,de,hwe->hw", delta, self.inv_cov[0, 0], delta)
        else:
            projected = np.matmul(self.inv_cov, delta[..., None])[..., 0]  # batched BLAS
            m = (delta * projected).sum(axis=-1)
        return np.sqrt(np.maximum(m, 0.0))


@dataclass
class LineModel:
    """Everything a taught line needs to score a view: pose, light, comparisons, scales."""

    side: int
    region: np.ndarray  # side x side float32 0..1: where defects count (part + margin)
    pixels: PixelModel | None
    patches: PatchModel | None
    #: Divisors that bring each map to "1 = typical of held-out good parts".
    pixel_scale: float = 1.0
    patch_scale: float = 1.0
    detail_scale: float = 1.0
    threshold: float = 1.0
    #: Typical sqrt(hull area) of a part in crop pixels (0: unknown).
    part_scale: float = 0.0
    #: Side of the box that smooths the pixel map (3 keeps 1-2 px scratches).
    smooth_px: int = 3
    #: Sigma (canonical px) of the Gaussian that smooths the patch map (0: none, as
    #: in models taught before it): a lone busy patch (a texture's grain, a part's
    #: edge a pixel off) is not a defect.
    patch_sigma: float = 0.0
    #: Side (canonical px) of the box whose local mean the detail map takes off the
    #: pixel differences (0: no detail map, as in models taught before it).
    detail_px: int = 0
    #: Pixels every good part covers, and their median grey level (0: no correction).
    body: np.ndarray | None = None
    brightness: float = 0.0
    #: Colour (BGR, taught brightness) painted over everything that is not the part
    #: (None: views are compared as they are, e.g. a fixed scene or a texture).
    background: np.ndarray | None = None
    #: The light teach saw parts under (median `PartCrop.light`; 0: unknown, the light
    #: is then read off the belt around each part).
    light: float = 0.0
    #: rfft of the reference silhouette that fixes each view's rotation (None: the
    #: views are compared in the pose they come in).
    reference: np.ndarray | None = None
    #: The line's belt has a pattern (cleats, holes, links): a view cut before the
    #: counter knew it (`PartCrop.belt_settled`) is not judged.
    patterned_belt: bool = False

    #: The comparisons, saved as arrays named with their prefix.
    _PARTS: ClassVar[dict[str, type[PixelModel] | type[PatchModel]]] = {
        "pixels": PixelModel,
        "patches": PatchModel,
    }

    def normalise(
        self, image: np.ndarray, mask: np.ndarray | None = None, light: float | None = None
    ) -> np.ndarray:
        """A registered view corrected to the taught brightness, the part alone in it.

        With `mask` (the view's own part mask) and a taught background, whatever is not
        the part (belt, dirt, a neighbour) is painted over with the background colour,
        and the view is corrected by the light it was seen under (`light`, else read off
        the belt around the part); failing that, by its body's brightness.
        """
        if mask is not None and self.background is not None:
            gain = light_gain(self.light, light)
            if gain is None:
                gain = belt_gain(image, mask, self.background)
            if gain is not None:
                return isolate(np.asarray(image * gain, np.float32), mask, self.background)
        out = image if self.body is None else normalise(image, self.body, self.brightness)
        if mask is None or self.background is None:
            return out
        return isolate(out, mask, self.background)

    @property
    def appearance(self) -> Appearance | None:
        """The taught look that turns a part its outline cannot (None: the outline does)."""
        if self.reference is None or self.pixels is None or self.body is None:
            return None
        return Appearance(grey_of(self.pixels.mean), self.body)

    def pixel_map(self, image: np.ndarray) -> np.ndarray | None:
        """Smoothed pixel distance map of a registered view, in held-out units."""
        if self.pixels is None:
            return None
        return self._smoothed(self.pixels.distance(image)) / self.pixel_scale

    def pixel_maps(
        self, image: np.ndarray, mask: np.ndarray, unsure: np.ndarray | None = None
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """`pixel_map` and the detail map of a registered view (None: not taught).

        The detail map is the pixel differences on the part's surface (`mask`: the
        view's own part, 0..1) less their local mean there (in a box of `detail_px`
        a side): a slow change over the part (its tint, a mottled finish, the
        light across it) falls out of it, while a scratch, a stain or a filled hole, a
        few pixels across, stands out. It judges the part's surface two pixels in
        from its outline and its holes' edges only (`unsure`: the neighbour's place,
        left out as well): the belt's pixel kept around the part (a seam, a cleat,
        dirt) is no detail of the part, and a missing edge is the pixel map's and the
        patches'.
        """
        if self.pixels is None or self.detail_px <= 0:
            return self.pixel_map(image), None
        raw, signed = self.pixels.residual(image)
        pixel = self._smoothed(raw) / self.pixel_scale
        part = np.asarray(mask, np.float32)
        if unsure is not None:
            part = part * ~unsure
        surface = cv2.erode((part > 0.5).view(np.uint8), _CROSS, iterations=2)
        if not surface.any():
            return pixel, None  # no surface to judge (a thin part): the detail has no say
        reach = (self.detail_px, self.detail_px)
        share = cv2.blur(part, reach)  # of the part's pixels in the box
        per_share = 1.0 / np.maximum(share, 1e-3)
        for plane in signed:  # the local mean of the part's pixels only, channel by channel
            plane -= cv2.blur(plane * part, reach) * per_share
        signed *= signed
        detail = self._smoothed(np.sqrt((signed[0] + signed[1] + signed[2]) / 3.0))
        detail[surface == 0] = 0.0
        return pixel, detail / self.detail_scale

    def _smoothed(self, raw: np.ndarray) -> np.ndarray:
        # A 3 x 3 box keeps a 1-2 px wide scratch but averages single noisy pixels away.
        return np.asarray(cv2.blur(raw, (self.smooth_px, self.smooth_px)), np.float32)

    def patch_map(self, features: np.ndarray) -> np.ndarray:
        """Patch distance map upsampled to the canonical side, in held-out units."""
        assert self.patches is not None
        raw = self.patches.distance(features)
        up = cv2.resize(raw, (self.side, self.side), interpolation=cv2.INTER_LINEAR)
        if self.patch_sigma > 0:
            up = cv2.GaussianBlur(up, (0, 0), self.patch_sigma)
        return np.asarray(up, np.float32) / self.patch_scale

    def combine(self, pixel_map: np.ndarray | None, patch_map: np.ndarray | None) -> np.ndarray:
        """The view's anomaly map inside the part's region."""
        maps = [m for m in (pixel_map, patch_map) if m is not None]
        if not maps:
            return np.zeros_like(self.region)
        both = maps[0] if len(maps) == 1 else np.maximum(maps[0], maps[1])
        return np.asarray(both * self.region, np.float32)

    def to_saved(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The model as named arrays (for an `.npz`) and scalars (for a JSON manifest).

        Every field is saved under its own name; a comparison's arrays under its
        prefix ("pixel_mean"); a complex array as "<name>_real" and "<name>_imag".
        """
        arrays: dict[str, np.ndarray] = {}
        scalars: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.name in self._PARTS:
                arrays |= {value.PREFIX + g.name: getattr(value, g.name) for g in fields(value)}
            elif isinstance(value, np.ndarray) and np.iscomplexobj(value):
                arrays[f"{f.name}_real"] = value.real.astype(np.float32)
                arrays[f"{f.name}_imag"] = value.imag.astype(np.float32)
            elif isinstance(value, np.ndarray):
                arrays[f.name] = value
            else:
                scalars[f.name] = value
        return arrays, scalars

    @classmethod
    def from_saved(cls, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> LineModel:
        """The model `to_saved` wrote; `scalars` may hold other keys too.

        A missing field takes its default, as in models saved before it existed.

        Raises:
            KeyError: a field with no default is missing.
        """
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in cls._PARTS:
                part = cls._PARTS[f.name]
                names = [part.PREFIX + g.name for g in fields(part)]
                values[f.name] = part(*(arrays[n] for n in names)) if names[0] in arrays else None
            elif f.name in arrays:
                values[f.name] = arrays[f.name]
            elif f"{f.name}_real" in arrays:
                values[f.name] = arrays[f"{f.name}_real"] + 1j * arrays[f"{f.name}_imag"]
            elif f.name in scalars:
                values[f.name] = scalars[f.name]
        missing = [
            f.name
            for f in fields(cls)
            if f.name not in values and f.default is MISSING and f.default_factory is MISSING
        ]
        if missing:
            raise KeyError(", ".join(missing))
        return cls(**values)


@dataclass
class Taught:
    """A taught line: its model, how it was taught, and the teach report."""

    model: LineModel
    info: dict[str, Any]
    #: What teach saw, used and left out, and its warnings (`report.teach_report`).
    report: dict[str, Any] | None = None
