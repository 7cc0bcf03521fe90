"""Judges what `make deploy-check` saw of a unit: pure functions and a small CLI.

deploy/check.sh samples `systemctl show` while the unit starts (one sample a line,
`KEY=VALUE` pairs joined by `|`) and asks this module whether systemd held the unit in
`activating (start)` until the agent's READY=1 and only then made it `active (running)`
with the agent's status text:

    python deploy/proof.py ready LINE_ID < samples
    python deploy/proof.py seconds "1min 30s"      # a systemd time span: 90
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable


def parse_show(line: str) -> dict[str, str]:
    """One `systemctl show -p A -p B` sample, its lines joined by `|`, as a dict."""
    pairs = (item.partition("=") for item in line.strip().split("|") if "=" in item)
    return {key: value for key, _, value in pairs}


def readiness_problem(samples: Iterable[dict[str, str]], line_id: str) -> str | None:
    """Why the start-up sampled does not show READY=1 before `active (running)`, or None.

    The agent's own process must be seen running while systemd still says `activating
    (start)` (it has not sent READY=1 yet: loading the model, opening the camera); the
    first `active` sample must be `running` and carry the agent's status text.

    Args:
        samples: `systemctl show` samples (ActiveState, SubState, MainPID, StatusText)
            in the order taken, from `systemctl start --no-block` on.
        line_id: the line, whose status text is `line <id> counting`.
    """
    waited = False
    for sample in samples:
        state, sub = sample.get("ActiveState"), sample.get("SubState")
        if state == "activating" and sub == "start" and sample.get("MainPID", "0") != "0":
            waited = True
        elif state == "active":
            if not waited:
                return "active without the agent's process being seen waiting before READY=1"
            if sub != "running":
                return f"active ({sub}), not active (running)"
            expected = f"line {line_id} counting"
            if sample.get("StatusText") != expected:
                return f"status text {sample.get('StatusText')!r}, not {expected!r}"
            return None
        elif state in ("failed", "deactivating", "inactive") and waited:
            return f"{state} ({sub}) before it was ready"
    return "never active"


#: systemd's time span units (systemd.time(7)), in seconds.
UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def timespan_s(text: str) -> float:
    """A time span as `systemctl show` prints it (`20s`, `1min 30s`, `500ms`), in seconds.

    Raises:
        ValueError: not a time span of those units.
    """
    match = re.fullmatch(r"\s*((?:\d+(?:\.\d+)?(?:us|ms|s|min|h|d)\s*)+)", text)
    if not match:
        raise ValueError(f"not a time span: {text!r}")
    return sum(
        float(number) * UNITS[unit]
        for number, unit in re.findall(r"(\d+(?:\.\d+)?)(us|ms|min|s|h|d)", text)
    )


def main(argv: list[str] | None = None) -> int:
    """`python deploy/proof.py ready LINE_ID < samples` or `... seconds SPAN`; the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("check", choices=["ready", "seconds"])
    parser.add_argument("arg", help="the line's id (ready) or a time span (seconds)")
    args = parser.parse_args(argv)
    if args.check == "seconds":
        print(f"{timespan_s(args.arg):g}")
        return 0
    samples = [parse_show(line) for line in sys.stdin if line.strip()]
    problem = readiness_problem(samples, args.arg)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
