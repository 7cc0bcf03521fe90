"""The lines `make deploy-check` installs: rendered footage played as cameras.

Two lines, each a recording the simulator renders, played in a loop as a 30 fps camera
(`[camera] loop = true`):

- `check-1`: a running belt with parts, also the good production `teach` learns from;
- `idle-1`: a halted, empty belt: a healthy line with nothing to count, which must
  never trip the watchdog.

Their stores and models are below `/var/lib/oee` (the only path the unit may write)
and their broker is the container's mosquitto.

    python deploy/lines.py OUT_DIR --footage-dir /srv/oee-check --port 18830

writes OUT_DIR/check-1.avi, idle-1.avi, check-1.toml, idle-1.toml.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

#: Seconds of footage: enough parts for `teach` (30) from one pass of the running belt.
RUNNING_S = 42.0
IDLE_S = 10.0


@dataclass(frozen=True)
class Line:
    """One line of the check: its id and the footage its camera plays."""

    id: str
    moving: bool
    seconds: float
    seed: int


LINES = (Line("check-1", True, RUNNING_S, 1), Line("idle-1", False, IDLE_S, 2))


def line_toml(line_id: str, source: str, roi: tuple[int, int, int, int], port: int) -> str:
    """The line's configuration as a plant engineer would write it for a board.

    Args:
        line_id: `[line] id`, also the unit's instance name.
        source: the recording, an absolute path inside the container.
        roi: the belt's region of interest (x, y, w, h) in the recording.
        port: the container broker's port on the loopback interface.

    Returns:
        TOML text with absolute store and model paths below /var/lib/oee.
    """
    return (
        f'[line]\nid = "{line_id}"\nsite = "deploy-check"\narea = "container"\n'
        'ideal_cycle_s = 0.8\ntimezone = "UTC"\n\n'
        f'[camera]\nsource = "{source}"\nfps = 30\nloop = true\n\n'
        f"[vision]\nroi = {list(roi)}\n\n"
        f'[inspection]\nmodel_dir = "/var/lib/oee/{line_id}/inspection"\n\n'
        f'[store]\npath = "/var/lib/oee/{line_id}/line.db"\n\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\n'
    )


def write_lines(out: Path, footage_dir: str, port: int) -> None:
    """Render each line's footage into `out` and write its TOML beside it."""
    from agent.sim.line import Phase, Scenario, render_line

    out.mkdir(parents=True, exist_ok=True)
    for line in LINES:
        phase = Phase(line.seconds, moving=line.moving, feeding=line.moving)
        scenario = Scenario(phases=(phase,), seed=line.seed, codec="MJPG")
        render_line(scenario, out / f"{line.id}.avi")
        source = f"{footage_dir}/{line.id}.avi"
        (out / f"{line.id}.toml").write_text(line_toml(line.id, source, scenario.roi, port))


def main() -> None:
    """`python deploy/lines.py OUT --footage-dir DIR --port PORT`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--footage-dir", required=True, help="where the container sees OUT")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    write_lines(args.out, args.footage_dir, args.port)


if __name__ == "__main__":
    main()
