"""The teach report: what teach saw, used and left out, how good parts scored, warnings.

Written beside the model as `teach.json` and printed by `oee-agent teach`, so whoever
taught the line knows whether to trust the model, and what to change when not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from agent.inspection.register import Registered
from agent.inspection.selection import Selection
from agent.inspection.threshold import robust_log_fit

REPORT_FILE = "teach.json"
#: Fewer clean parts than this make a weak model (the threshold rests on a third).
ENOUGH_PARTS = 100
#: Share of parts left out as touching / cut off / merged above which to ask for space.
CROWDED_SHARE = 0.2
#: Share of parts left out as blurred above which to ask for a steadier view.
BLURRED_SHARE = 0.1
#: Robust spread of held-out good parts' log scores above which good parts differ too much.
WIDE_SPREAD = 0.3
#: Median spread of one part's size between its views above which the view moves too much.
JITTERY_VIEW = 0.03
#: Share of parts unlike the rest above which the footage may not be good production.
ODD_SHARE = 0.05
CROWDING = ("touching", "clipped", "size", "outline")


def _jitter(registered: Sequence[Sequence[Registered]]) -> float:
    """Median over parts of the relative spread of one part's size between its views."""
    spreads = [
        float(np.std([r.pose.scale for r in regs]) / np.mean([r.pose.scale for r in regs]))
        for regs in registered
        if len(regs) >= 2
    ]
    return float(np.median(spreads)) if spreads else 0.0


def teach_report(
    selection: Selection,
    odd: np.ndarray,
    held_scores: np.ndarray,
    threshold: float,
    registered: Sequence[Sequence[Registered]],
    false_reject_rate: float,
) -> dict[str, Any]:
    """The report's figures and warnings (a JSON-ready dict)."""
    seen = selection.parts_seen
    used = len(selection.parts) - int(odd.sum())  # clean and like the rest
    left_out = dict(selection.parts_left_out)
    if odd.any():
        left_out["unlike_the_rest"] = int(odd.sum())
    quantiles = np.quantile(held_scores, [0.0, 0.5, 0.9, 0.99, 1.0]) / threshold
    centre, spread = robust_log_fit(held_scores)
    jitter = _jitter(registered)
    over = int(np.count_nonzero(held_scores > threshold))
    warnings = _warnings(selection, used, int(odd.sum()), spread, jitter)
    warnings += _over_warning(over, len(held_scores), false_reject_rate)
    return {
        "parts_seen": seen,
        "parts_used": used,
        "parts_left_out": left_out,
        "views_seen": selection.views_seen,
        "views_left_out": dict(selection.views_left_out),
        "held_out_parts": len(held_scores),
        # Scores as the agent reports them: 1.0 is the threshold.
        "good_scores": {
            k: round(float(v), 3)
            for k, v in zip(("min", "median", "p90", "p99", "max"), quantiles, strict=True)
        },
        "good_spread": round(spread, 3),
        # How far the threshold sits above the good tail (the largest held-out score).
        "margin": round(float(threshold / max(float(held_scores.max()), 1e-9)), 3),
        "expected_false_rejects": round(_tail(held_scores, threshold, centre, spread), 4),
        # Held-out good parts the threshold already rejects (the fit's tail may be light).
        "good_over_threshold": over,
        "view_jitter": round(jitter, 4),
        "warnings": warnings,
    }


def _warnings(selection: Selection, used: int, odd: int, spread: float, jitter: float) -> list[str]:
    """What to change when the model cannot be trusted, one sentence each."""
    seen = selection.parts_seen
    warnings = []
    if used < ENOUGH_PARTS:
        warnings.append(
            f"only {used} clean parts to learn from: record more footage of good production "
            f"(150-300 clean parts)"
        )
    crowded = sum(selection.parts_left_out.get(k, 0) for k in CROWDING)
    if seen and crowded / seen > CROWDED_SHARE:
        warnings.append(
            f"{crowded} of {seen} parts touched a neighbour, were cut off by the ROI's edge or "
            "merged with something: space the parts on the belt while teaching, and check "
            "[vision] roi covers the belt"
        )
    blurred = selection.parts_left_out.get("blurred", 0)
    if seen and blurred / seen > BLURRED_SHARE:
        warnings.append(
            f"{blurred} of {seen} parts were blurred: use a shorter exposure, more light, "
            "or a steadier belt"
        )
    if spread > WIDE_SPREAD:
        warnings.append(
            f"good parts score very differently from one another (spread {spread:.2f}): "
            "steadier light, a sharper focus and more footage make a tighter model"
        )
    if jitter > JITTERY_VIEW:
        warnings.append(
            f"a part's size changes by {jitter:.1%} between its views: the view moves too "
            "much; steady the camera, check its focus and that parts lie flat"
        )
    if seen and odd / seen > ODD_SHARE:
        warnings.append(
            f"{odd} parts looked unlike the rest and were left out (defective, "
            "or seen badly): make sure the footage shows good production only, parts apart"
        )
    return warnings


def _over_warning(over: int, held: int, rate: float) -> list[str]:
    """The warning when held-out good parts over the threshold outnumber the rate and one.

    The threshold comes from a robust fit that one odd part cannot move; where good
    parts' scores have a longer tail than the fit (parts that vary, faint defects in
    the footage), the line rejects more good parts than asked, and says so here.
    """
    if over <= max(1.0, rate * held):
        return []
    return [
        f"{over} of {held} good parts held out score above the threshold, more than the "
        f"{rate:.1%} of false rejects asked for: expect more good parts rejected; teach on "
        "more footage of good production only, or ask for fewer false rejects "
        "([inspection] false_reject_rate), which raises the threshold"
    ]


def _tail(scores: np.ndarray, threshold: float, centre: float, spread: float) -> float:
    """Share of good parts above the threshold the robust fit expects."""
    z = (math.log(threshold) - centre) / spread
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def format_report(report: dict[str, Any]) -> str:
    """The report as a few plain lines for the terminal."""
    left = report["parts_left_out"]
    why = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(left.items())) or "none"
    s = report["good_scores"]
    lines = [
        f"parts seen {report['parts_seen']}, used {report['parts_used']}, left out: {why}",
        f"good parts' scores (1.0 = threshold): median {s['median']:.2f}, 90 % {s['p90']:.2f}, "
        f"99 % {s['p99']:.2f}, largest {s['max']:.2f} "
        f"({report['held_out_parts']} held out in turn); margin {report['margin']:.2f}x",
    ]
    lines += [f"warning: {w}" for w in report["warnings"]]
    return "\n".join(lines)
