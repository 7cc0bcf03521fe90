"""Bring each view of a part to one canonical pose: position, scale and rotation.

Local comparison only works when the same point of every part lands on the same
pixel. Position comes from the centroid of the outline's convex hull and scale from
its area (both barely move when a hole is missing or an edge is chipped). Rotation
comes from a polar image of the part's silhouette: turning a part shifts its polar
image along the angle axis, so one circular cross-correlation against the line's
reference finds the angle, whatever the outline's symmetry (a disc with bolt holes,
a hexagon, or a bracket whose moments leave a 180° ambiguity). Where the outline fits
the reference as well at several angles (a disc turned by its bolt holes' spacing, an
outline a neighbour cut), the part's look decides (`Appearance`): its shading under a
light from one side, its print or texture then lands where the taught parts' did.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np

from agent.inspection import PartCrop
from agent.masks import fill_holes

logger = logging.getLogger(__name__)

#: Angular bins of the polar silhouette (1° each; a parabola refines the peak).
POLAR_ANGLES = 360
POLAR_RADII = 32
#: Silhouette rotations scoring at least this share of the best one's correlation are
#: ones the outline alone cannot tell apart: the part's look chooses among them.
ALIKE = 0.5
#: The hull's sqrt(area) maps to this fraction of the canonical side.
PART_FRACTION = 0.58


@dataclass(frozen=True, slots=True)
class Pose:
    """Where the part is in its crop: hull centroid (x, y), sqrt(hull area), angle (deg)."""

    cx: float
    cy: float
    scale: float
    angle: float


@dataclass(frozen=True, slots=True)
class Registered:
    """A view in canonical pose: BGR float32 image, part mask (float 0..1), its pose."""

    image: np.ndarray
    mask: np.ndarray
    pose: Pose
    #: The light the view was seen under (`PartCrop.light`; None: unknown).
    light: float | None = None
    #: Where a touching neighbour lies against the part (bool): not judged, since what
    #: is part and what neighbour there is not sure (None: no neighbour).
    ignore: np.ndarray | None = None
    #: Where in `ignore` the view shows bare belt (bool; None: nowhere): neither part
    #: nor neighbour lies there, so where the part should be, material is missing.
    bare: np.ndarray | None = None

    @property
    def unsure(self) -> np.ndarray | None:
        """Where the pixels are not judged: the neighbour's place but for bare belt."""
        if self.ignore is None or self.bare is None:
            return self.ignore
        return self.ignore & ~self.bare


@dataclass(frozen=True, slots=True)
class _Blobs:
    """The 8-connected blobs of a binary image: `count` labels (0 is the background).

    Labelled without OpenCV's statistics, which cost six times the labelling on a
    crop; the few each caller needs are counted from the labels.
    """

    count: int
    labels: np.ndarray

    @classmethod
    def of(cls, binary: np.ndarray) -> _Blobs:
        count, labels = cv2.connectedComponents(binary, connectivity=8)
        return cls(int(count), labels)

    @property
    def areas(self) -> np.ndarray:
        """Pixels of each label."""
        return np.bincount(self.labels.ravel(), minlength=self.count)

    def covered(self, mask: np.ndarray) -> np.ndarray:
        """Pixels of each label under `mask` (bool)."""
        return np.bincount(self.labels[mask], minlength=self.count)

    def most_covered(self, mask: np.ndarray) -> int:
        """The blob `mask` covers most (0: none)."""
        overlap = self.covered(mask)
        overlap[0] = 0
        return int(np.argmax(overlap)) if overlap.max() > 0 else 0

    def at_edge(self, within: int) -> np.ndarray:
        """Which labels reach within `within` pixels of the image's edge (bool per label)."""
        labels, edge = self.labels, np.zeros(self.count, bool)
        for strip in (labels[:within], labels[-within:], labels[:, :within], labels[:, -within:]):
            edge[strip.ravel()] = True
        return edge


def part_mask(crop: PartCrop) -> np.ndarray:
    """The part's pixels at full resolution, as uint8 0/255 (see `part_and_neighbour`)."""
    return part_and_neighbour(crop)[0]


def part_and_neighbour(
    crop: PartCrop,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The part's pixels at full resolution (uint8 0/255), where a neighbour lies, bare belt.

    The neighbour's place (bool) is where one the view is `touching` lies against the
    part; None for a view that touches none. Bare belt (bool, None without a
    neighbour) is where the crop shows the belt, a pixel or more from anything
    that differs from it: neither part nor neighbour lies there, so a chip at the
    contact still shows where the neighbour's place is otherwise not judged.

    The part is what differs from the belt (Otsu's threshold on the largest channel
    difference): on a belt with a pattern, from the belt the counter learnt under the
    crop (`PartCrop.belt`), else from the colour of the crop's border (the crop is the
    part plus a margin). The pipeline's own mask is coarse (it segments at reduced
    resolution), so it only picks which blob is the part (and, on a patterned belt,
    bounds it); without one, the largest blob is. A touching view's blob is split
    from its neighbours at its necks (`_at_necks`, `_neighbours_left`).
    """
    image = np.ascontiguousarray(crop.image)
    neighbour = None
    found = _unlike_belt(image, crop)
    plain = found is None
    # (on a patterned belt also all that differs from the belt, not only near the mask)
    binary, unbounded = (_unlike_border(image), None) if found is None else found
    anything = binary
    given = None if crop.mask is None else np.asarray(crop.mask).astype(bool)
    if given is not None and not given.any():
        given = None
    if crop.touching and given is not None:
        # Split from a neighbour it touches: at full resolution they are one blob.
        near = cv2.dilate(given.view(np.uint8), _SPLIT_SLACK) > 0
        apart = None
        if plain:  # (on a patterned belt, `_neighbours_left` below)
            binary, apart = _at_necks(np.asarray(binary, np.uint8), given, near)
        binary, neighbour = _own_side(
            binary, near, binary if unbounded is None else unbounded, apart
        )
        if apart is not None:
            neighbour |= cv2.dilate(apart.view(np.uint8), _NEIGHBOUR_SPREAD) > 0
    blobs = _Blobs.of(np.asarray(binary, np.uint8))
    count, labels = blobs.count, blobs.labels
    if count <= 1:
        return np.zeros(binary.shape, np.uint8), neighbour, _bare(anything, neighbour)
    label = 0 if given is None else blobs.most_covered(given)
    if label == 0:
        label = 1 + int(np.argmax(blobs.areas[1:]))
    blob = (labels == label).view(np.uint8) * np.uint8(255)
    if neighbour is not None and given is not None and not plain:
        blob, neighbour = _neighbours_left(blob, given, neighbour)
    part = _trimmed(_apart(blob, crop.mask), neighbour)
    if neighbour is None:
        neighbour = _close_neighbour(blob - part, blobs, label, part)
    return part, neighbour, _bare(anything, neighbour)


#: How far from anything unlike the belt a pixel is bare belt (1 px: a chip at the contact
#: itself is a notch a few pixels wide; 2 px found half of them, docs/accuracy.md s17).
_BARE_MARGIN = np.ones((3, 3), np.uint8)


def _bare(anything: np.ndarray, neighbour: np.ndarray | None) -> np.ndarray | None:
    """Where the crop shows bare belt (bool; None when no neighbour lies near the part)."""
    if neighbour is None:
        return None
    return cv2.dilate(np.asarray(anything, np.uint8), _BARE_MARGIN) == 0


#: How near the part another blob counts as a neighbour against it (3 px).
_CLOSE = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
#: Blobs at least this share of the part's area are parts, not specks of dirt.
_NEIGHBOUR_SHARE = 0.1


def _close_neighbour(
    cut: np.ndarray, blobs: _Blobs, label: int, part: np.ndarray
) -> np.ndarray | None:
    """Where a neighbour lies against a part no pipeline flag called touching (bool).

    What was cut off the part's blob (`cut`: a neighbour joined by a narrow contact,
    the sliver of one the crop cut), and other blobs within 3 px of the part that are
    part-sized or run off the crop: their edge lies within the pixel the view keeps
    around the part, so what is part there is no more sure than by a touching one.
    None when there is none.
    """
    labels = blobs.labels
    big = blobs.areas >= _NEIGHBOUR_SHARE * cv2.countNonZero(part)
    candidate = big | blobs.at_edge(1)
    candidate[0] = candidate[label] = False
    others = cut > 0
    if candidate.any():  # most views show no other blob: nothing to look for near it
        near = cv2.dilate(part, _CLOSE) > 0
        close = np.unique(labels[near])
        close = close[candidate[close]]
        if close.size:
            others |= np.isin(labels, close)
    if not others.any():
        return None
    return cv2.dilate(others.view(np.uint8), _NEIGHBOUR_SPREAD) > 0


def _border_colour(image: np.ndarray) -> np.ndarray:
    """The median colour of the crop's border (float BGR): the belt around the part."""
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    return np.median(border, axis=0)


def _unlike_border(image: np.ndarray) -> np.ndarray:
    """Where the crop differs from its border's colour (uint8 0/255, Otsu's threshold)."""
    background = _border_colour(image).astype(np.uint8)
    # Largest per-channel difference from the background: cheap, and a coloured part
    # on a grey belt differs in at least one channel.
    scalar = (*(float(v) for v in background), 0.0)
    b, g, r = cv2.split(cv2.absdiff(image, scalar))  # type: ignore[call-overload]  # a Scalar
    distance = cv2.max(cv2.max(b, g), r)
    _, binary = cv2.threshold(distance, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return np.asarray(binary, np.uint8)


#: Where the learnt pattern may lie off the frame's (frame px): its phase is matched
#: at a quarter of the resolution, and its edges blur.
_SHIFTS = ((0, 0), (-1, 0), (1, 0), (-2, 0), (2, 0), (0, -1), (0, 1), (0, -2), (0, 2))
#: How far the farthest of `_SHIFTS` reaches.
_SHIFT_REACH = max(max(abs(dx), abs(dy)) for dx, dy in _SHIFTS)
#: How far outside the pipeline's mask the part may reach on a patterned belt (it is
#: drawn at a quarter of the resolution).
_REACH = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (13, 13))


def _unlike_belt(image: np.ndarray, crop: PartCrop) -> tuple[np.ndarray, np.ndarray] | None:
    """Where the part is on a patterned belt (uint8 0/255), or None on a plain one.

    Also returns what differs from the belt anywhere in the crop (not bounded by the
    pipeline's mask: `_own_side` asks whether a piece runs on).

    A pixel's distance from the belt is its largest channel difference from the
    learnt belt there, or a pixel or two off (`_SHIFTS`), whichever is least (never a
    colour between: a part on a cleat's edge is neither cleat nor shadow); the part
    is what lies farther than Otsu's threshold of those distances (over belt nearly
    the part's colour, than half the step there: `_where_the_step_is_small`), within the
    pipeline's mask grown (`_REACH`: the pattern beyond it that the model misses, a
    cleat's shadow or dirt, is no part). No cap on that threshold: on a plain belt it
    then falls where the border's colour puts it, so an outline does not depend on
    whether the counter has learnt the belt yet (teach's short footage may not have, a
    shift's will); a cap below a bright part's threshold drew its blurred outline a
    pixel wider on a shift than in teach, and every good part scored above the line.
    Where
    the belt is not known (outside the ROI, a phase of the pattern not yet seen free
    of parts) the border's colour stands for it, and only the pipeline's mask itself
    bounds the part: a cleat there would differ from that colour.
    """
    belt = crop.belt
    given = None if crop.mask is None else (np.asarray(crop.mask) > 0).view(np.uint8)
    if belt is None or given is None or not given.any():
        return None
    known = crop.belt_known
    model = np.asarray(belt, np.uint8)
    if known is not None:
        around = np.clip(_border_colour(image) + 0.5, 0, 255).astype(np.uint8)
        model = np.where(known[..., None], model, around)
    levels = _from_belt(image, model)
    otsu, binary = cv2.threshold(levels, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    near = cv2.dilate(given, _REACH) > 0
    binary = _where_the_step_is_small(image, model, levels, binary, otsu, near)
    unbounded = binary.copy()
    binary[~near] = 0
    if known is not None:
        binary[~known & (given == 0)] = 0
    return np.asarray(binary, np.uint8), unbounded


def _from_belt(image: np.ndarray, model: np.ndarray) -> np.ndarray:
    """Per pixel, the largest channel difference from the belt `model` there or `_SHIFTS` off.

    The least over the shifts (uint8), never a colour between: a part on a cleat's edge
    is neither cleat nor shadow.
    """
    h, w = image.shape[:2]
    reach = _SHIFT_REACH
    padded = cv2.copyMakeBorder(model, reach, reach, reach, reach, cv2.BORDER_REPLICATE)
    levels = None
    for dx, dy in _SHIFTS:
        there = padded[reach + dy : reach + dy + h, reach + dx : reach + dx + w]
        b, g, r = cv2.split(cv2.absdiff(image, there))
        apart = cv2.max(cv2.max(b, g), r)
        levels = apart if levels is None else cv2.min(levels, apart)
    assert levels is not None
    return np.asarray(levels)


def _where_the_step_is_small(
    image: np.ndarray,
    model: np.ndarray,
    levels: np.ndarray,
    binary: np.ndarray,
    otsu: float,
    near: np.ndarray,
) -> np.ndarray:
    """`binary` with the part's pixels over belt nearly the part's colour added.

    Otsu's threshold falls between the belt and the part where most of the part lies;
    over a stretch of belt nearer the part's colour (a light cleat under a brass part)
    the step from belt to part is smaller and may lie wholly under it, and the part
    there would be taken for belt: a bite out of it in every view. There a pixel is
    part when it lies farther from the belt than half that step (from the part's
    median colour to the belt there, measured as `levels` are), as an outline lies half
    way up its edge, and farther than the belt away from the part (`near`: the
    pipeline's mask grown) strays from its model. Where the step is at least twice
    Otsu's threshold nothing changes, so outlines elsewhere stay as they were.
    """
    sure = ((binary > 0) & near).view(np.uint8)
    belt = levels[~near]
    if cv2.countNonZero(sure) < _FEW or belt.size < _FEW:
        return binary
    part = image[sure > 0]
    colour = tuple(float(_quantile(part[:, c], 0.5)) for c in range(3)) + (0.0,)
    b, g, r = cv2.split(cv2.absdiff(model, colour))  # type: ignore[call-overload]  # a Scalar
    step = cv2.erode(cv2.max(cv2.max(b, g), r), _SHIFTED, borderType=cv2.BORDER_REPLICATE)
    strays = _quantile(belt, 0.995)
    local = np.maximum(np.minimum(otsu, 0.5 * step.astype(np.float32)), strays)
    return np.where(levels > local, np.uint8(255), binary).astype(np.uint8)


def _quantile(values: np.ndarray, q: float) -> int:
    """The `q` quantile of uint8 `values` (the lowest level with that share at or under it)."""
    counts = np.cumsum(np.bincount(values.ravel(), minlength=256))
    return int(np.searchsorted(counts, q * counts[-1]))


#: Pixels of part and of belt needed to read their colours and strays from.
_FEW = 16
#: `_SHIFTS` as a structuring element (they are symmetric): an erosion takes the least
#: over them.
_SHIFTED = np.zeros((2 * _SHIFT_REACH + 1,) * 2, np.uint8)
_SHIFTED[[_SHIFT_REACH + dy for _, dy in _SHIFTS], [_SHIFT_REACH + dx for dx, _ in _SHIFTS]] = 1


def _own_side(
    binary: np.ndarray, near: np.ndarray, whole: np.ndarray, apart: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """What lies `near` the counting's split of a blob shared with a touching neighbour.

    Returns that (uint8 0/255) and where the neighbour is (bool: the shared blob's
    pixels beyond the split, grown by a few pixels): the split is drawn at a quarter of
    the resolution, so a sliver of the neighbour stays along the contact.

    Given the `whole` of what differs from the belt (`binary` itself on a plain belt;
    on a patterned one `binary` is bounded near the mask), a piece past the split is
    the neighbour's only where it runs on: off the crop, into a neighbour already split
    off at the necks (`apart`), or more than `_OWN_REACH` past the split. A thin piece
    that does none of these is the part's own rim where the coarse mask fell short of
    a thin arc of it (washers in a queue lost their top to the neighbour's place: the
    outline cut, the pose off, 3 of 96 good parts rejected on *queue*; on *everything*,
    a crack running out to the rim there went unjudged).
    """
    beyond = ((binary > 0) & ~near).view(np.uint8)
    if beyond.any():
        own = _own_rim(((whole > 0) & ~near).view(np.uint8), near, apart) & (beyond > 0)
        beyond[own] = 0
        near = near | own
    neighbour = cv2.dilate(beyond, _NEIGHBOUR_SPREAD) > 0
    return binary * near.view(np.uint8), neighbour


def _own_rim(beyond: np.ndarray, near: np.ndarray, apart: np.ndarray | None) -> np.ndarray:
    """The pieces of `beyond` that run on nowhere: off the crop, into `apart`, far past `near`."""
    pieces = _Blobs.of(beyond)
    theirs = pieces.at_edge(1)
    theirs[pieces.labels[(beyond > 0) & ~(cv2.dilate(near.view(np.uint8), _OWN_REACH) > 0)]] = True
    if apart is not None:
        theirs[pieces.labels[cv2.dilate(apart.view(np.uint8), _ONE_PX) > 0]] = True
    theirs[0] = True
    return ~theirs[pieces.labels]


def _at_necks(
    binary: np.ndarray, given: np.ndarray, near: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """`binary` less the touching neighbours the part's blob holds, split off at the necks.

    At full resolution a part and the neighbours it touches are one blob, and where
    the counter's split was a guess by size its mask may reach well into a neighbour,
    so what lies near that mask (`_own_side`) holds a chunk of it. The blob is split
    at its necks (`_pieces`); the piece the pipeline's mask covers most is the part,
    and another piece is a neighbour if that mask covers less than half of it, it
    reaches out of what lies `near` the mask, or the crop's edge cuts it (one the mask
    mostly covers and bounds, an arm of the part, stays). On a plain belt only: on a
    patterned one only what lies near the mask differs from the belt at all.

    Returns:
        `binary` less the neighbours, and where they lie (bool; None: none split off).
    """
    blobs = _Blobs.of(binary)
    label = blobs.most_covered(given)
    if blobs.count <= 1 or label == 0:
        return binary, None
    pieces = _pieces((blobs.labels == label).view(np.uint8))
    if pieces is None:
        return binary, None
    covered = pieces.covered(given)
    foreign = covered < 0.5 * pieces.areas
    foreign[pieces.labels[~near]] = True
    foreign |= pieces.at_edge(1)  # the crop, cut round the part, cut this one
    apart = _neighbours_of(pieces, covered, foreign)
    return (binary, None) if apart is None else (binary * ~apart, apart)


def _neighbours_left(
    blob: np.ndarray, given: np.ndarray, neighbour: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`blob` (what lay near the counter's mask) less a neighbour's chunk still joined to it.

    On a patterned belt only what lies near the mask differs from the belt
    (`_unlike_belt`), so the shared blob is not whole; a chunk of a neighbour there
    joins the part by a neck of its own: split (`_pieces`), a piece other than the one
    the mask covers most that runs on into the neighbour's place beyond the split, or
    off the crop, is the neighbour's. (On a blob cut so, `_at_necks`' test by cover
    fails: a blocky chunk's core lies close to the contact, and the boundary between
    nearest cores cut a slice off the part.)

    Returns:
        The blob less those pieces, and the neighbour's place grown by them.
    """
    pieces = _pieces(blob)
    if pieces is None:
        return blob, neighbour
    covered = pieces.covered(given)
    foreign = pieces.covered(neighbour) > 0
    apart = _neighbours_of(pieces, covered, foreign | pieces.at_edge(1))
    if apart is None:
        return blob, neighbour
    grown = cv2.dilate(apart.view(np.uint8), _NEIGHBOUR_SPREAD) > 0
    return np.asarray(blob * ~apart, np.uint8), neighbour | grown


def _neighbours_of(pieces: _Blobs, covered: np.ndarray, foreign: np.ndarray) -> np.ndarray | None:
    """Where the `foreign` pieces lie (bool), the part's spared; None when there are none.

    The part's piece is the one the pipeline's mask `covered` most.
    """
    foreign[0] = foreign[int(np.argmax(covered[1:])) + 1] = False
    return foreign[pieces.labels] if foreign.any() else None


def _pieces(blob: np.ndarray) -> _Blobs | None:
    """A blob split at its necks: each pixel's piece (label 0 off it), None if one piece.

    As the counter splits a merged piece: the blob's holes filled, the cores of its
    distance transform (the level giving the most, raised in steps of a third up to
    half the deepest; a core stands a pixel above its level, a peak rather than a
    sliver of a ridge, and has `_CORE_AREA` pixels), each pixel to its nearest core.
    """
    filled = fill_holes(blob)
    # (no border of belt: a neighbour the crop cut runs on past its edge)
    distance = cv2.distanceTransform(filled, cv2.DIST_L2, 3)
    top = float(distance.max())
    cores, most, level = None, 1, 2.0
    while level + 1.0 <= top / 2:
        n, labels = cv2.connectedComponents((distance > level).view(np.uint8), connectivity=4)
        if n > 2:
            peaks = np.bincount(labels[distance > level + 1.0], minlength=n) > 0
            peaks &= np.bincount(labels.ravel(), minlength=n) >= _CORE_AREA
            peaks[0] = False
            if int(peaks.sum()) > most:
                most, cores = int(peaks.sum()), np.where(peaks[labels], labels, 0)
        level = max(level + 1.0, round(level * 4 / 3))
    if cores is None:
        return None
    _, nearest = cv2.distanceTransformWithLabels(
        (cores == 0).view(np.uint8), cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_CCOMP
    )
    owner = np.where(filled > 0, nearest, 0)
    return _Blobs(int(owner.max()) + 1, owner)


#: How far past a touching neighbour's pixels its place reaches in the view (4 px).
_NEIGHBOUR_SPREAD = np.ones((9, 9), np.uint8)
#: How far past the counter's split of a touching part its pixels may lie (3 px: the
#: split is drawn at a quarter of the resolution).
_SPLIT_SLACK = np.ones((7, 7), np.uint8)
#: How far past the counter's split of a touching part its own rim may lie (5 px more than
#: `_SPLIT_SLACK`, two work pixels past the mask: the arc of a round rim thinner than a
#: work pixel is not in it).
_OWN_REACH = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (11, 11))
#: One pixel around (a piece beside a neighbour's touches it; a hull a pixel tighter or wider).
_ONE_PX = np.ones((3, 3), np.uint8)
#: A core of the distance transform smaller than this (full-resolution pixels) is no part's.
_CORE_AREA = 16


#: How far past a touching neighbour's pixels the maps are not judged (canonical px).
_IGNORE_SPREAD = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
#: Contacts narrower than this (a neighbour edge to edge, dirt touching the part) are cut.
_NECK = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))


def _apart(blob: np.ndarray, given: np.ndarray | None) -> np.ndarray:
    """`blob` without what only a narrow contact joins to it (a neighbour, a smudge).

    Eroding by two pixels parts two outlines that merely touch; when that leaves more
    than one piece, the part's is grown back by the same two pixels, within the blob.
    """
    core = cv2.erode(blob, _NECK)
    blobs = _Blobs.of(core)
    count, labels = blobs.count, blobs.labels
    if count <= 2:
        return blob
    every_area = blobs.areas
    areas = every_area[1:]
    # The part is the largest sizeable piece the pipeline's mask covers most. Another
    # sizeable piece is a neighbour; a small one reaching the crop's edge is the sliver
    # of one the crop cut; other small pieces are the part's own (a tip past a hole).
    sizeable = np.flatnonzero(areas >= 0.25 * areas.max()) + 1
    label = int(sizeable[np.argmax(areas[sizeable - 1])])
    if len(sizeable) > 1 and given is not None and np.asarray(given).any():
        overlap = np.bincount(labels[np.asarray(given).astype(bool)].ravel(), minlength=count)
        if overlap[sizeable].max() > 0:
            label = int(sizeable[np.argmax(overlap[sizeable])])
    foreign = np.zeros(count, bool)
    foreign[sizeable] = True
    foreign |= blobs.at_edge(2)
    if given is not None and np.asarray(given).any():
        # a piece the pipeline's mask mostly covers is the part's own (a washer's ring
        # that thin bridges beside its holes hold together, over a bright cleat)
        inside = np.bincount(labels[np.asarray(given).astype(bool)].ravel(), minlength=count)
        foreign &= inside < 0.5 * every_area
    foreign[0] = foreign[label] = False
    if not foreign.any():
        return blob
    grown = cv2.dilate(((labels > 0) & ~foreign[labels]).view(np.uint8), _NECK)
    return np.asarray(blob & (grown * np.uint8(255)), np.uint8)


#: Protrusions thinner than this (pixels) are not the part's outline.
_SLIVER = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))


def _trimmed(blob: np.ndarray, neighbour: np.ndarray | None = None) -> np.ndarray:
    """`blob` within the convex hull of its body: a neighbour's sliver joined to it goes.

    A part followed edge to edge merges with the edge of its neighbour that the crop
    cut, or keeps a sliver of a neighbour it touches along the contact (`neighbour`:
    where that one lies, the only place then trimmed); a sliver is thin, so opening
    the blob removes it, and the hull of all that is left is the part's outline (its
    own holes and bites stay as they are).
    """
    at_edge = blob[0].any() or blob[-1].any() or blob[:, 0].any() or blob[:, -1].any()
    if not at_edge and (neighbour is None or not neighbour.any()):
        return blob  # no neighbour the crop cut, none touching
    body = cv2.morphologyEx(blob, cv2.MORPH_OPEN, _SLIVER)
    points = cv2.findNonZero(body)
    if points is None:
        return blob
    hull = np.zeros_like(blob)
    cv2.fillConvexPoly(hull, cv2.convexHull(points), 255)
    if not at_edge and neighbour is not None:
        # trimmed only where the neighbour touches, and by a pixel more there: its
        # edge lies against the part's
        hull = cv2.erode(hull, _ONE_PX)
        hull[~neighbour] = 255
    else:
        hull = cv2.dilate(hull, _ONE_PX)
    return np.asarray(blob & hull, np.uint8)


def _largest_contour(mask: np.ndarray) -> np.ndarray | None:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    return max(contours, key=cv2.contourArea)


def locate(mask: np.ndarray) -> tuple[float, float, float] | None:
    """Centroid (x, y) and sqrt(area) of the largest blob's convex hull; None if empty."""
    contour = _largest_contour(mask)
    if contour is None:
        return None
    hull = cv2.convexHull(contour)
    moments = cv2.moments(hull)
    if moments["m00"] < 9:
        return None
    return (
        moments["m10"] / moments["m00"],
        moments["m01"] / moments["m00"],
        math.sqrt(moments["m00"]),
    )


def polar_signature(mask: np.ndarray, cx: float, cy: float, scale: float) -> np.ndarray:
    """The silhouette in polar coordinates (angles x radii), radii up to ~1.2 part sizes."""
    radius = scale * 0.9
    # Crops are tight: pad so every polar sample lies inside the (zero) padded mask.
    pad = int(math.ceil(radius)) + 2
    padded = cv2.copyMakeBorder(
        mask.astype(np.float32) / 255.0, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0.0
    )
    polar = cv2.warpPolar(
        padded,
        (POLAR_RADII, POLAR_ANGLES),
        (cx + pad, cy + pad),
        radius,
        cv2.WARP_POLAR_LINEAR | cv2.INTER_LINEAR | cv2.WARP_FILL_OUTLIERS,
    )
    return np.asarray(polar, np.float32)


def rotation_to(reference_fft: np.ndarray, signature: np.ndarray) -> float:
    """Degrees to rotate a view (counter-clockwise in array terms) onto the reference.

    `reference_fft` is `np.fft.rfft(reference_signature, axis=0)`; the best circular
    shift along the angle axis, refined to a fraction of a bin by a parabola.
    """
    return rotations_to(reference_fft, signature)[0]


def rotations_to(reference_fft: np.ndarray, signature: np.ndarray) -> list[float]:
    """The rotations (degrees, as `rotation_to`) the outline cannot tell apart, best first.

    Every peak of the circular cross-correlation scoring at least `ALIKE` of the best.
    """
    centred = signature - signature.mean(axis=0, keepdims=True)
    spectrum = np.fft.rfft(centred, axis=0)
    correlation = np.fft.irfft((reference_fft * np.conj(spectrum)).sum(axis=1), n=POLAR_ANGLES)
    left, right = np.roll(correlation, 1), np.roll(correlation, -1)
    top = float(correlation.max())
    peaks = np.flatnonzero(
        (correlation >= left) & (correlation > right) & (correlation >= ALIKE * top)
    )
    if peaks.size == 0:  # a flat correlation (no outline to speak of)
        peaks = np.array([int(np.argmax(correlation))])
    peaks = peaks[np.argsort(-correlation[peaks])]
    return [_refined(correlation, int(best)) for best in peaks]


def _refined(correlation: np.ndarray, best: int) -> float:
    """The rotation of the peak at bin `best`, refined by a parabola through its bins."""
    left = correlation[(best - 1) % POLAR_ANGLES]
    right = correlation[(best + 1) % POLAR_ANGLES]
    centre = correlation[best]
    denominator = left - 2 * centre + right
    offset = 0.5 * (left - right) / denominator if denominator < 0 else 0.0
    return float(-(best + offset) * 360.0 / POLAR_ANGLES)


def reference_spectrum(signatures: list[np.ndarray]) -> np.ndarray:
    """The rfft along angles of the mean of aligned polar signatures (the line's reference)."""
    mean = np.mean(signatures, axis=0)
    return np.fft.rfft(mean - mean.mean(axis=0, keepdims=True), axis=0)


def warp(crop: PartCrop, mask: np.ndarray, pose: Pose, side: int) -> tuple[np.ndarray, np.ndarray]:
    """The crop and its mask resampled into the canonical square of `side` pixels."""
    matrix = _to_canonical(pose, side)
    image = cv2.warpAffine(
        crop.image.astype(np.float32),
        matrix,
        (side, side),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    canon_mask = cv2.warpAffine(
        mask.astype(np.float32) / 255.0, matrix, (side, side), flags=cv2.INTER_LINEAR
    )
    return np.asarray(image, np.float32), np.asarray(canon_mask, np.float32)


def _to_canonical(pose: Pose, side: int) -> np.ndarray:
    """The affine matrix taking crop pixels to the canonical square (2 x 3)."""
    zoom = PART_FRACTION * side / pose.scale
    matrix = cv2.getRotationMatrix2D((pose.cx, pose.cy), pose.angle, zoom)
    matrix[0, 2] += side / 2.0 - pose.cx
    matrix[1, 2] += side / 2.0 - pose.cy
    return matrix


_MEAN_OF_CHANNELS = np.full((1, 3), 1.0 / 3.0, np.float32)


def grey_of(image: np.ndarray) -> np.ndarray:
    """The mean of B, G and R per pixel (float32): the grey a part's look is compared in.

    (OpenCV's transform: numpy's mean over the channel axis cost more than the rest of
    the choice among alike angles.)
    """
    return np.asarray(cv2.transform(image.astype(np.float32), _MEAN_OF_CHANNELS))


@dataclass(frozen=True, slots=True)
class Appearance:
    """The taught part's look in canonical pose: its grey levels where every part lies.

    Among rotations its outline fits equally (`rotations_to`), a view is turned to the
    one whose grey image correlates best with this look. Correlation ignores the
    light's level, and only the pixels the view's own part covers count (not what a
    neighbour or the crop cut off).
    """

    grey: np.ndarray  # side x side float32
    body: np.ndarray  # side x side bool: pixels every taught part covers

    def likeness(self, grey: np.ndarray, covered: np.ndarray) -> float:
        """Correlation of a view's canonical grey levels with the look (-1..1).

        Over the body pixels the view's own part covers (`covered`, bool).
        """
        inside = self.body & covered
        if np.count_nonzero(inside) < 2:
            return -1.0
        seen, taught = grey[inside], self.grey[inside]
        seen, taught = seen - seen.mean(), taught - taught.mean()
        spread = math.sqrt(float(np.dot(seen, seen)) * float(np.dot(taught, taught)))
        return float(np.dot(seen, taught)) / spread if spread > 0 else -1.0

    @classmethod
    def of(cls, views: list[Registered]) -> Appearance:
        """The mean look of registered views, each brought to one light level."""
        greys = []
        for r in views:
            grey = grey_of(r.image)
            greys.append(grey / max(float(np.median(grey[r.mask > 0.5])), 1.0))
        body = np.mean([r.mask for r in views], axis=0) > 0.95
        return cls(np.mean(greys, axis=0).astype(np.float32), body)


@dataclass(frozen=True, slots=True)
class _Outline:
    """A view's part found in its crop: mask, neighbour, hull pose, candidate angles."""

    mask: np.ndarray
    neighbour: np.ndarray | None
    bare: np.ndarray | None
    cx: float
    cy: float
    scale: float
    angles: list[float]


def _outline(crop: PartCrop, reference_fft: np.ndarray | None) -> _Outline | None:
    mask, neighbour, bare = part_and_neighbour(crop)
    found = locate(mask)
    if found is None:
        return None
    cx, cy, scale = found
    angles = [0.0]
    if reference_fft is not None:
        angles = rotations_to(reference_fft, polar_signature(mask, cx, cy, scale))
    return _Outline(mask, neighbour, bare, cx, cy, scale, angles)


def register(
    crop: PartCrop,
    reference_fft: np.ndarray | None,
    side: int,
    appearance: Appearance | None = None,
) -> Registered | None:
    """One view in canonical pose; None when no part can be found in it.

    Without a reference (the first part taught), the rotation is left as it is; without
    an `appearance`, it is the outline's best fit.
    """
    outline = _outline(crop, reference_fft)
    return None if outline is None else _posed(crop, outline, side, appearance)


def _posed(
    crop: PartCrop, outline: _Outline, side: int, appearance: Appearance | None
) -> Registered:
    """The view turned to the outline's best angle, or to the alike one most like `appearance`."""
    angle = outline.angles[0]
    if appearance is not None and len(outline.angles) > 1:
        angle = _most_alike(crop, outline, side, appearance)
    pose = Pose(outline.cx, outline.cy, outline.scale, angle)
    image, canon_mask = warp(crop, outline.mask, pose, side)
    ignore = bare = None
    neighbour = outline.neighbour
    if neighbour is not None and neighbour.any():
        _, near = warp(crop, neighbour.view(np.uint8) * np.uint8(255), pose, side)
        # grown by what a neighbour's edge spreads over in the maps (smoothing, patches)
        ignore = cv2.dilate((near > 0.1).view(np.uint8), _IGNORE_SPREAD) > 0
        if outline.bare is not None and outline.bare.any():
            _, seen = warp(crop, outline.bare.view(np.uint8) * np.uint8(255), pose, side)
            bare = ignore & (seen > 0.5)
    return Registered(image, canon_mask, pose, crop.light, ignore, bare)


def _most_alike(crop: PartCrop, outline: _Outline, side: int, appearance: Appearance) -> float:
    """Of the outline's alike angles, the one whose grey view looks most like `appearance`.

    Only grey levels and the part's mask are turned for each (the colour view once, for
    the angle chosen). (At half the side it cost a third less, but views of one part
    disagreed twice as often: 6 % against 4 % on shake-noise-only offset 2.)
    """
    grey = grey_of(crop.image)
    best, chosen = -math.inf, outline.angles[0]
    for angle in outline.angles:
        matrix = _to_canonical(Pose(outline.cx, outline.cy, outline.scale, angle), side)
        seen = cv2.warpAffine(grey, matrix, (side, side), borderMode=cv2.BORDER_REPLICATE)
        covered = cv2.warpAffine(outline.mask, matrix, (side, side), flags=cv2.INTER_NEAREST)
        like = appearance.likeness(seen, covered > 127)
        if like > best:
            best, chosen = like, angle
    return chosen


def build_appearance(
    crops: list[PartCrop], reference_fft: np.ndarray, side: int, rounds: int = 2
) -> Appearance:
    """The line's look in canonical pose, from views of good parts.

    As `build_reference` does for the outline: starts from the first view's look, turns
    the others to it (among their alike angles), averages, and repeats.

    Raises:
        ValueError: no part was found in any view.
    """
    outlines = [(c, o) for c in crops if (o := _outline(c, reference_fft)) is not None]
    if not outlines:
        raise ValueError("no part found in any view")
    appearance = Appearance.of([_posed(*outlines[0], side, None)])
    for _ in range(rounds):
        appearance = Appearance.of([_posed(c, o, side, appearance) for c, o in outlines])
    return appearance


def fixed(crop: PartCrop, side: int) -> Registered:
    """A view used as it is, resized to the canonical square.

    For a part held in a fixture, or a textured surface: there is no pose to undo.
    """
    image = cv2.resize(crop.image, (side, side), interpolation=cv2.INTER_AREA)
    h, w = crop.image.shape[:2]
    pose = Pose(w / 2.0, h / 2.0, math.sqrt(h * w), 0.0)
    mask = np.ones((side, side), np.float32)
    return Registered(image.astype(np.float32), mask, pose, crop.light)


def place(
    crop: PartCrop,
    reference_fft: np.ndarray | None,
    side: int,
    appearance: Appearance | None = None,
) -> Registered | None:
    """`register` a view against the line's reference, or take it as it is (`fixed`)."""
    if reference_fft is None:
        return fixed(crop, side)
    return register(crop, reference_fft, side, appearance)


def signature_of(crop: PartCrop) -> np.ndarray | None:
    """The polar silhouette of a view, in its own (unrotated) frame."""
    mask = part_mask(crop)
    found = locate(mask)
    if found is None:
        return None
    return polar_signature(mask, *found)


def build_reference(crops: list[PartCrop], rounds: int = 2) -> np.ndarray:
    """The line's reference polar spectrum, from views of good parts.

    Starts from the first view, aligns the others to it, averages, and repeats, so the
    reference is a mean silhouette rather than one part's.
    """
    signatures = [s for s in (signature_of(c) for c in crops) if s is not None]
    if not signatures:
        raise ValueError("no part found in any view")
    reference = reference_spectrum(signatures[:1])
    for _ in range(rounds):
        aligned = []
        for signature in signatures:
            shift = rotation_to(reference, signature) * POLAR_ANGLES / 360.0
            aligned.append(_roll_fractional(signature, -shift))
        reference = reference_spectrum(aligned)
    return reference


def _roll_fractional(signature: np.ndarray, shift: float) -> np.ndarray:
    """Circularly shift along the angle axis by a fractional number of bins."""
    whole = math.floor(shift)
    frac = shift - whole
    a = np.roll(signature, whole, axis=0)
    b = np.roll(signature, whole + 1, axis=0)
    return np.asarray((1 - frac) * a + frac * b, np.float32)
