"""`load_inspector(config)`: the line's taught inspector, or `NoInspection` when untaught."""

from __future__ import annotations

import logging

from agent.config import Config
from agent.inspection import Inspector, NoInspection
from agent.inspection.classifier import load_classifier
from agent.inspection.inspector import TaughtInspector
from agent.inspection.persist import has_taught, load_taught
from agent.inspection.runtime import Backbone

logger = logging.getLogger(__name__)


def load_inspector(config: Config) -> Inspector:
    """The inspector for `config`'s line.

    A line with no taught model in `[inspection] model_dir` still counts: it gets
    `NoInspection` and a log line saying inspection is off.

    Raises:
        UserError: a taught model (or the backbone it needs) does not match its manifest.
    """
    model_dir = config.model_dir
    if not has_taught(model_dir):
        logger.warning("inspection is off: no taught model in %s", model_dir)
        return NoInspection()
    taught, backbone_name = load_taught(model_dir)
    backbone = None
    if backbone_name is not None:
        backbone = Backbone(backbone_name, threads=config.inspection.threads)
    logger.info(
        "inspection is on: model in %s (taught on %s parts)", model_dir, taught.info.get("parts")
    )
    classifier = load_classifier(model_dir, config.inspection.threads)
    return TaughtInspector(
        taught, backbone, feature_views=config.inspection.feature_views, classifier=classifier
    )
