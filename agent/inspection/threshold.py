"""After the anomaly map: a view's score, a part's score, and the line's threshold.

A view scores the peak of its map, a comparison the median over the views it ran on
(a part's score is the larger comparison's: `inspector.part_score`). The threshold
comes from a robust log-normal fit of held-out good parts' scores, so a defective part
among the "good" ones can drag neither it nor the fit with it.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

#: Factor above the robust fit's false-reject quantile: a few dozen held-out parts pin
#: their centre and spread, not their 1 % tail, and new good parts scatter a little
#: past it, while defects score several times higher than good parts.
THRESHOLD_MARGIN = 1.3
#: Smallest spread of log scores assumed (held-out parts that happen to score alike).
MIN_LOG_SPREAD = 0.05


def peak(anomaly_map: np.ndarray) -> float:
    """A view's score: the peak of its anomaly map."""
    return float(anomaly_map.max())


def median_peak(maps: list[np.ndarray]) -> float | None:
    """The median of the maps' peaks over views, so a glitch in one frame is ignored."""
    return float(np.median([peak(m) for m in maps])) if maps else None


def robust_log_fit(scores: np.ndarray) -> tuple[float, float]:
    """Median and MAD-based standard deviation of log scores (one odd part moves neither)."""
    logs = np.log(np.maximum(np.asarray(scores, np.float64), 1e-6))
    centre = float(np.median(logs))
    spread = 1.4826 * float(np.median(np.abs(logs - centre)))
    return centre, max(spread, MIN_LOG_SPREAD)


def threshold_for(scores: np.ndarray, false_reject_rate: float) -> float:
    """The score above which a part is rejected, from held-out good parts' scores.

    A log-normal fitted with the median and the median absolute deviation, so a
    defective part among the "good" ones cannot drag the threshold up with it; the
    (1 - rate) quantile of that fit times `THRESHOLD_MARGIN`.
    """
    centre, spread = robust_log_fit(scores)
    z = NormalDist().inv_cdf(1.0 - false_reject_rate)
    return math.exp(centre + z * spread) * THRESHOLD_MARGIN


def outliers(scores: np.ndarray, sigmas: float = 4.0) -> np.ndarray:
    """Which scores lie far above the rest (robust log fit): parts unlike the others."""
    centre, spread = robust_log_fit(scores)
    logs = np.log(np.maximum(np.asarray(scores, np.float64), 1e-6))
    return np.asarray(logs > centre + sigmas * spread)
