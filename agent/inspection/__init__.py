"""Inspection: a verdict for every counted part from the line's taught int8 model.

Stage interface: an `Inspector` turns the crops of one part (several frames around
its crossing) into a `Verdict`. `NoInspection` is what a line without a taught
model uses: every part counts as good and the verdict says inspection is off.

`loader.load_inspector(config)` gives the line's inspector. Inside, by stage:
`runtime` (the TFLite interpreter and the int8 backbone, checked against their
manifests), `register` (canonical pose), `light` (taught light, the part alone),
`model` (pixel, detail and patch comparisons; the model's saved fields), `threshold` (scores
and the threshold), `selection` + `prepared` + `fit` + `calibrate` (teaching), `inspector` (the
verdict), `persist` (atomic save/load), `teach` (the command), `classifier` (optional
defect names), `pictures` (defect PNGs). docs/inspection.md explains them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

#: Views of a part whose patches the int8 backbone judges (the middle ones; their
#: median peak). One view's patches scatter over good parts under blur, shake and
#: noise as widely as a faint defect scores. On the 19 scenarios of
#: benchmarks/accuracy.py at offsets 1-3 (2026-12-05), two rather than one: good parts
#: rejected 13 -> 9, defects missed 32 -> 31, to the letter 42 -> 46 of 57; three cost
#: over the 10 ms a part for no more (docs/accuracy.md, session 13).
FEATURE_VIEWS = 2


@dataclass(frozen=True, slots=True)
class PartCrop:
    """One view of a counted part: BGR pixels around it and its foreground mask."""

    image: np.ndarray  # H x W x 3 uint8, the part's bounding box plus a margin
    mask: np.ndarray | None = None  # H x W bool/uint8, the part's pixels
    #: The part was split from a blob it shared with a neighbour in this frame (its
    #: outline may be cut or carry a neighbour's pixels): teach leaves such views out.
    touching: bool = False
    #: The part's blob touches the ROI's edge across the flow (part of it is cut off).
    clipped: bool = False
    #: The light the part was seen under: the belt's grey in a band of the part's rows
    #: (and as many again either side) along the whole ROI this frame, parts left out,
    #: the mean of its middle 60 % (`agent.counting.belt_light`; None: unknown). Many
    #: belt repeats, not the few pixels around the part, so a patterned belt reads it
    #: steadily.
    light: float | None = None
    #: The belt under the crop as the counter learnt it (H x W x 3 uint8 BGR), on a
    #: belt with a pattern (cleats, holes, links) that the crop's border cannot stand
    #: for; None on a plain belt.
    belt: np.ndarray | None = None
    #: Where `belt` is known (H x W bool; None: everywhere): not outside the ROI, nor
    #: on a phase of the pattern not yet seen free of parts.
    belt_known: np.ndarray | None = None
    #: Whether the counter knew the belt's kind (plain or patterned) when it cut this
    #: view. In the first seconds of its belt model (a run's start, after a gap in the
    #: footage or a lost view) it does not, and `belt` is None whatever the
    #: belt: on a patterned belt a cleat seen through a hole would pass for the part.
    belt_settled: bool = True


@dataclass(frozen=True, slots=True)
class Verdict:
    """Good or not, how unusual (score), which defect, and where (heatmap 0..1)."""

    good: bool
    score: float | None = None
    defect: str | None = None
    heatmap: np.ndarray | None = None  # float32 in [0, 1], the size of the crop shown
    crop: np.ndarray | None = None  # the view the heatmap belongs to
    #: False when the part was counted but could not be judged (its event then says
    #: `"inspected": false`, and it counts as good).
    inspected: bool = True


class Inspector(Protocol):
    """Gives each counted part a verdict."""

    enabled: bool

    @property
    def patterned_belt(self) -> bool:
        """The line was taught on a belt with a pattern (`LineModel.patterned_belt`).

        A part's views need the belt's picture under them, so at a run's start the
        counter holds parts until it knows the belt (`PartCounter`).
        """
        ...

    def inspect(self, views: Sequence[PartCrop]) -> Verdict:
        """The verdict for one part seen in `views` (one or more frames)."""
        ...


class NoInspection:
    """The inspector of a line with no taught model: counts every part as good."""

    enabled = False
    patterned_belt = False

    def inspect(self, views: Sequence[PartCrop]) -> Verdict:
        """Always good, no score."""
        return Verdict(good=True)
