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
    """Median and Qn-based standard deviation of log scores (one odd part moves neither)."""
    logs = np.log(np.maximum(np.asarray(scores, np.float64), 1e-6))
    return float(np.median(logs)), max(qn_scale(logs), MIN_LOG_SPREAD)


#: Qn's small-sample factors (Croux and Rousseeuw 1992), n = 2..9.
_QN_SMALL = {2: 0.399, 3: 0.994, 4: 0.512, 5: 0.844, 6: 0.611, 7: 0.857, 8: 0.669, 9: 0.872}


def qn_scale(values: np.ndarray) -> float:
    """Rousseeuw and Croux's Qn: a standard deviation from the pairwise distances.

    The first quartile of the distances between every two values, scaled to the
    standard deviation of a normal sample. As robust as the median absolute deviation
    (half the values may be odd), but more than twice as efficient: from a few dozen
    held-out parts it scatters less, and so does a threshold set from it.
    """
    x = np.sort(np.asarray(values, np.float64).ravel())
    n = x.size
    if n < 2:
        return 0.0
    h = n // 2 + 1
    small = _QN_SMALL.get(n) or (n / (n + 1.4) if n % 2 else n / (n + 3.8))
    return 2.2219 * small * _kth_distance(x, h)


def _kth_distance(x: np.ndarray, h: int) -> float:
    """The C(h, 2)-th smallest distance between two of the sorted values `x`.

    By bisection on the distance, counting the pairs within it from the sorted values
    (n log n a count, so teach's largest footage does not hold n^2 distances).
    """
    k = h * (h - 1) // 2
    after = np.arange(1, x.size + 1)

    def pairs_within(d: float) -> int:
        return int((np.searchsorted(x, x + d, side="right") - after).sum())

    if pairs_within(0.0) >= k:
        return 0.0  # that many pairs alike
    # any h sorted values in a row hold C(h, 2) pairs within their span: a bound that
    # an infinite score at either end does not reach
    low, high = 0.0, float(np.min(x[h - 1 :] - x[: x.size - h + 1]))
    while True:
        middle = (low + high) / 2.0
        if not low < middle < high:  # as close as float64 can tell
            return high
        if pairs_within(middle) >= k:
            high = middle
        else:
            low = middle


def threshold_for(scores: np.ndarray, false_reject_rate: float) -> float:
    """The score above which a part is rejected, from held-out good parts' scores.

    A log-normal fitted with the median and Qn (`robust_log_fit`), so a
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
