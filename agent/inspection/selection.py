"""Which views teach may learn from: clean single parts, and why the others were left out.

Good production is never perfectly separated: parts touch, reach out of the ROI, or
blur when the belt jerks. Teach learns only from views of one whole, sharp part. The
counting stage flags views it split from a neighbour (`touching`) or that the ROI's
edge cuts (`clipped`); the crop itself tells the rest, judged against the other views
of the same footage (a part's size and outline, the sharpness of its edges).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from agent.inspection import PartCrop
from agent.inspection.register import Appearance, Registered, place

#: Reasons a view is left out, in the order they are checked.
REASONS = ("touching", "clipped", "belt_unknown", "no_part", "size", "outline", "blurred")
#: A view whose size is off the typical part's by more than this is cut off or merged.
SIZE_TOLERANCE = 0.2
#: ... or whose solidity (part area / hull area) is off the typical by more than this.
OUTLINE_TOLERANCE = 0.1
#: A view whose edge energy is below this share of the typical view's is blurred.
SHARPNESS_FLOOR = 0.65


@dataclass
class Selection:
    """The clean views of each part kept (parts without any are dropped), and the tally."""

    parts: list[list[PartCrop]]
    registered: list[list[Registered]]
    parts_seen: int
    views_seen: int
    #: Views left out, by reason.
    views_left_out: Counter[str] = field(default_factory=Counter)
    #: Parts with no clean view, by the most common reason among their views.
    parts_left_out: Counter[str] = field(default_factory=Counter)
    #: Typical sqrt(hull area) of a part in crop pixels.
    part_scale: float = 0.0
    #: The belt has a pattern (`on_patterned_belt`).
    patterned_belt: bool = False


def on_patterned_belt(parts: Sequence[Sequence[PartCrop]]) -> bool:
    """Whether most views cut once the counter knew the belt carry its pattern (`PartCrop.belt`)."""
    known = [v.belt is not None for views in parts for v in views if v.belt_settled]
    return bool(known) and 2 * sum(known) > len(known)


def solidity(mask: np.ndarray) -> float:
    """Part area over its convex hull's area (a merged neighbour or a cut changes it)."""
    binary = (mask > 0.5).astype(np.uint8)
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return 0.0
    hull = cv2.contourArea(cv2.convexHull(max(contours, key=cv2.contourArea)))
    return float(binary.sum()) / hull if hull > 0 else 0.0


def sharpness(registered: Registered) -> float:
    """Edge energy of a canonical view near its part, in its weakest direction.

    Motion blur smears edges along one direction only, so the least of four directions'
    energies drops most. Smoothed first so that sensor noise does not count as detail;
    divided by the part's brightness squared so that lighting does not either.
    """
    grey = cv2.GaussianBlur(registered.image.mean(axis=2), (0, 0), 1.0)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    body = registered.mask > 0.5
    near = cv2.dilate(body.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    if not body.any():
        return 0.0
    gx, gy = gx[near], gy[near]
    energies = [(g**2).mean() for g in (gx, gy, (gx + gy) / 1.414, (gx - gy) / 1.414)]
    level = max(float(np.median(grey[body])), 1.0)
    return float(min(energies)) / level**2


def select_views(
    parts: Sequence[Sequence[PartCrop]],
    reference: np.ndarray | None,
    side: int,
    judge: bool = True,
    appearance: Appearance | None = None,
) -> Selection:
    """The clean views of every part, registered; what was left out and why.

    `judge`: False for a fixed scene or a texture (no part to judge: only the flags).
    `appearance`: the line's look, which turns a part its outline cannot (`register`).
    """
    patterned = on_patterned_belt(parts)
    verdicts: list[list[tuple[PartCrop, Registered | None, str | None]]] = []
    for views in parts:
        row: list[tuple[PartCrop, Registered | None, str | None]] = []
        for view in views:
            if view.touching:
                row.append((view, None, "touching"))
            elif view.clipped:
                row.append((view, None, "clipped"))
            elif patterned and not view.belt_settled:
                # cut before the counter knew the pattern: what shows through a hole
                # (a cleat) cannot be told from the part
                row.append((view, None, "belt_unknown"))
            else:
                reg = place(view, reference, side, appearance)
                row.append((view, reg, None if reg is not None else "no_part"))
        verdicts.append(row)
    placed = [reg for row in verdicts for _, reg, why in row if reg is not None and why is None]
    typical = float(np.median([r.pose.scale for r in placed])) if placed else 0.0
    if judge and placed:
        typical_solidity = float(np.median([solidity(r.mask) for r in placed]))
        typical_sharpness = float(np.median([sharpness(r) for r in placed]))

        def judged(reg: Registered) -> str | None:
            if abs(reg.pose.scale / typical - 1.0) > SIZE_TOLERANCE:
                return "size"
            if abs(solidity(reg.mask) / typical_solidity - 1.0) > OUTLINE_TOLERANCE:
                return "outline"
            if sharpness(reg) < SHARPNESS_FLOOR * typical_sharpness:
                return "blurred"
            return None

        verdicts = [
            [(v, r, why or (judged(r) if r is not None else None)) for v, r, why in row]
            for row in verdicts
        ]
    out = Selection([], [], parts_seen=len(parts), views_seen=sum(len(p) for p in parts))
    out.part_scale = typical if judge else 0.0
    out.patterned_belt = patterned
    for row in verdicts:
        reasons = [why for _, _, why in row if why is not None]
        out.views_left_out.update(reasons)
        clean = [(v, r) for v, r, why in row if why is None and r is not None]
        if clean:
            out.parts.append([v for v, _ in clean])
            out.registered.append([r for _, r in clean])
        else:
            reason = Counter(reasons).most_common(1)[0][0] if reasons else "no_part"
            out.parts_left_out[reason] += 1
    return out
