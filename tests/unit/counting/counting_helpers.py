"""Helpers for the counting tests on rendered footage."""


def missed_and_extra(truth, counted: list[float]) -> tuple[list[float], list[float]]:
    """True crossings and counts (seconds) left unmatched, one to one within 0.5 s."""
    counts = sorted(counted)
    missed = []
    for t in (p.t_count for p in truth.counted):
        near = [c for c in counts if abs(c - t) <= 0.5]
        if near:
            counts.remove(min(near, key=lambda c: abs(c - t)))
        else:
            missed.append(round(float(t), 2))
    return missed, [round(c, 2) for c in counts]
