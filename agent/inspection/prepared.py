"""Teach's clean views made ready once: brought to the line's light, through the backbone.

Teach fits several models (the first, the one without the parts unlike the rest, one
per fold) and scores the clean parts with each; all of them read a view's normalised
image and backbone features from here instead of computing them again (that was most
of teach's time). So every model teach fits shares the line's light (body,
brightness, belt colour, light level: `fit.line_light`); the models differ only in
the comparisons they fit and the region their views cover.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agent.inspection.inspector import TaughtInspector, ViewMaps, middle
from agent.inspection.model import LineModel, backbone_features
from agent.inspection.register import Registered
from agent.inspection.runtime import Backbone


@dataclass(frozen=True)
class Prepared:
    """Each clean part's views (as `Selection.registered`), normalised, and their features."""

    registered: list[list[Registered]]
    #: `LineModel.normalise` of each view, by the line's light.
    images: list[list[np.ndarray]]
    #: The backbone's features of each image, `channels` of them (None: no backbone).
    features: list[list[np.ndarray]] | None
    channels: np.ndarray | None

    def views(self, parts: Sequence[int]) -> tuple[list[Registered], list[np.ndarray]]:
        """The views of `parts` and their normalised images, in one list each."""
        return (
            [r for i in parts for r in self.registered[i]],
            [image for i in parts for image in self.images[i]],
        )

    def features_of(self, parts: Sequence[int]) -> list[np.ndarray] | None:
        """The features of every view of `parts` (None: no backbone)."""
        if self.features is None:
            return None
        return [f for i in parts for f in self.features[i]]

    def view_maps(self, inspector: TaughtInspector, part: int) -> list[ViewMaps]:
        """`inspector.view_maps` of the part's clean views, from what was computed once.

        The clean views are neither touching nor clipped, each found in pose: the
        inspector chooses among them as among a part's crops. `inspector`'s model must
        share the light these were normalised by.
        """
        regs = self.registered[part]
        chosen = middle(len(regs), inspector.max_views)
        kept = [chosen[k] for k in inspector.scored([regs[j] for j in chosen])]
        features = None
        if self.features is not None and inspector.model.patches is not None:
            features = [self.features[part][j] for j in kept].__getitem__
        return inspector.maps(
            [regs[j] for j in kept], [self.images[part][j] for j in kept], features
        )


def prepare(
    line: LineModel,
    registered: list[list[Registered]],
    backbone: Backbone | None,
    channels: np.ndarray | None,
) -> Prepared:
    """Every view normalised by `line`'s light and, with a backbone, its features once."""
    images = [[line.normalise(r.image, r.mask, r.light) for r in regs] for regs in registered]
    features = None
    if backbone is not None and channels is not None:
        features = [[backbone_features(backbone, im, channels) for im in ims] for ims in images]
    return Prepared(registered, images, features, channels)
